// Reference log-probs computed by referenceLogProbs (the trainer's activity) and read by scoreRollouts:
// the activity scores exactly the rows scoreRollouts writes (a refilled step's chosen groups too), so its
// numbers are bit-identical to what scoreRollouts computes itself on the CPU (a step scheduled before the
// activity existed); scoreRollouts takes what is stored under `referenceKey` and refuses rows that do not fit.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { prepareRun } from '../../../activities/prepareRun.ts';
import { referenceLogProbs } from '../../../activities/referenceLogProbs.ts';
import { rolloutKey } from '../../../activities/runtime.ts';
import { sampleRollouts } from '../../../activities/sampleRollouts.ts';
import { scoreRollouts } from '../../../activities/scoreRollouts.ts';
import type {
  RawRunConfig,
  ReferenceLogProbsOutput,
  RunPlan,
  SampleRolloutsOutput,
  ScoreRolloutsInput,
  ScoreRolloutsOutput,
} from '../../../activities/types.ts';
import { openStore } from '../../../core/store/index.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';
import { SYNTHETIC_ADDITION, TINY_TEXT_INIT } from './configFixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'reference-logprobs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function runConfig(runId: string, placement: 'loss' | 'reward' | 'none', refill = false): RawRunConfig {
  return {
    runId,
    seed: 11,
    steps: 1,
    model: { init: TINY_TEXT_INIT },
    task: refill ? { ...SYNTHETIC_ADDITION, reward: { dynamicSampling: true } } : SYNTHETIC_ADDITION,
    rollout: { promptsPerStep: 2, n: 2, maxNewTokens: 6, ...(refill ? { maxRefillRounds: 2 } : {}) },
    algorithm: {
      kl: { placement, coef: 0.5 },
      miniBatchSize: 4,
      microBatchSize: 4,
      optimizer: { lr: 1e-2 },
    },
    store: { url: dir },
  } as RawRunConfig;
}

const env = new MockActivityEnvironment();
const store = openStore(dir);
const readJson = async <T>(key: string) => JSON.parse(new TextDecoder().decode(await store.get(key))) as T;

/** Step 1's shards: one round, or three (round 0 and two refill rounds). */
async function sampled(config: RawRunConfig, rounds: number): Promise<Omit<ScoreRolloutsInput, 'config'>> {
  const plan = (await env.run(prepareRun, config)) as RunPlan;
  const keys: string[] = [];
  let cursor = plan.cursor;
  for (let round = 0; round < rounds; round++) {
    const out = (await env.run(sampleRollouts, {
      config,
      step: 1,
      shard: 0,
      cursor,
      ...(round ? { round } : {}),
    })) as SampleRolloutsOutput;
    keys.push(out.key);
    cursor = out.nextCursor;
  }
  return { step: 1, shardKeys: keys, ...(rounds > 1 ? { rounds } : {}) };
}

async function score(input: ScoreRolloutsInput): Promise<{ out: ScoreRolloutsOutput; rows: RolloutRow[] }> {
  const out = (await env.run(scoreRollouts, input)) as ScoreRolloutsOutput;
  return { out, rows: await readJson<RolloutRow[]>(out.key) };
}

it('the plan asks for reference log-probs exactly when the run has a KL term', async () => {
  assert.equal(
    ((await env.run(prepareRun, runConfig('plan-kl', 'reward'))) as RunPlan).referenceLogProbs,
    true,
  );
  assert.equal(
    ((await env.run(prepareRun, runConfig('plan-none', 'none'))) as RunPlan).referenceLogProbs,
    undefined,
  );
});

for (const refill of [false, true]) {
  it(`stores the numbers scoreRollouts computes itself, and scoreRollouts reads them${refill ? ' (refilled step)' : ''}`, async () => {
    const config = runConfig(refill ? 'ref-refill' : 'ref-plain', 'loss', refill);
    const batch = await sampled(config, refill ? 3 : 1);
    // Before referenceLogProbs: scoreRollouts scores the reference on the CPU.
    const inline = await score({ config, ...batch });
    const reference = (await env.run(referenceLogProbs, { config, ...batch })) as ReferenceLogProbsOutput;
    assert.equal(reference.key, rolloutKey(config.runId, 1, 'reference-logprobs.json'));
    const stored = await readJson<number[][]>(reference.key);
    assert.deepEqual(
      stored,
      inline.rows.map((r) => r.refLogprobs),
      'the same rows, in the same order, bit for bit',
    );
    const fromStore = await score({ config, ...batch, referenceKey: reference.key });
    assert.deepEqual(fromStore.rows, inline.rows);
    assert.deepEqual({ ...fromStore.out, seconds: 0 }, { ...inline.out, seconds: 0 });

    // What is stored is what is used: shifted reference log-probs reach the rows and the KL metric.
    const shiftedKey = rolloutKey(config.runId, 1, 'shifted.json');
    await store.put(
      shiftedKey,
      new TextEncoder().encode(JSON.stringify(stored.map((r) => r.map((x) => x - 1)))),
    );
    const shifted = await score({ config, ...batch, referenceKey: shiftedKey });
    assert.deepEqual(
      shifted.rows.map((r) => r.refLogprobs),
      stored.map((r) => r.map((x) => x - 1)),
    );
    assert.notEqual(shifted.out.klToReference, inline.out.klToReference);
  });
}

it('refuses stored reference log-probs that do not fit the step’s rows, naming the step', async () => {
  const config = runConfig('ref-bad', 'reward');
  const batch = await sampled(config, 1);
  const badKey = rolloutKey(config.runId, 1, 'short.json');
  await store.put(badKey, new TextEncoder().encode(JSON.stringify([[-1]])));
  await assert.rejects(
    env.run(scoreRollouts, { config, ...batch, referenceKey: badKey }),
    (error: Error & { nonRetryable?: boolean }) => {
      assert.match(
        error.message,
        /step 1: the reference log-probs do not match the step's 4 trained responses/,
      );
      assert.equal(error.nonRetryable, true);
      return true;
    },
  );
});
