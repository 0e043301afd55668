// DAPO dynamic sampling with refill: refill rounds sample the prompts after the previous round's, at
// their own random coordinates, the same on a re-run (a resumed step repeats them exactly); scoring a
// refilled step trains on the first promptsPerStep groups with signal, over all rounds, in order.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { prepareRun } from '../../../activities/prepareRun.ts';
import { sampleRollouts, type RolloutRecord } from '../../../activities/sampleRollouts.ts';
import { scoreRollouts } from '../../../activities/scoreRollouts.ts';
import { modelTokenizer, rolloutKey } from '../../../activities/runtime.ts';
import type {
  RawRunConfig,
  RunPlan,
  SampleRolloutsOutput,
  ScoreRolloutsOutput,
} from '../../../activities/types.ts';
import { takeBatch } from '../../../core/data/cursor.ts';
import { parseRunConfig } from '../../../core/config/run.ts';
import { refillSelection } from '../../../core/reward/dynamicSampling.ts';
import { openStore } from '../../../core/store/index.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';
import { SYNTHETIC_ADDITION, TINY_TEXT_INIT } from './configFixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'refill-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const config = {
  runId: 'refill',
  seed: 11,
  steps: 1,
  model: { init: TINY_TEXT_INIT },
  task: { ...SYNTHETIC_ADDITION, reward: { dynamicSampling: true } },
  rollout: { promptsPerStep: 2, n: 2, maxNewTokens: 6, maxRefillRounds: 2 },
  algorithm: { miniBatchSize: 4, microBatchSize: 4, optimizer: { lr: 1e-2 } },
  store: { url: dir },
} as RawRunConfig;

it('selection: the first groups with signal in sampling order, completed by dropped ones when short', () => {
  assert.deepEqual(refillSelection([false, true, true, true], 2), [1, 2]);
  assert.deepEqual(refillSelection([true, false, false, true, false, true], 2), [0, 3]);
  assert.deepEqual(
    refillSelection([false, true, false, false], 2),
    [0, 1],
    'rounds ran out: one dropped group fills',
  );
  assert.throws(() => refillSelection([true], 2), /1 groups for a batch of 2/);
});

it('config: refill needs dynamic sampling', () => {
  assert.throws(
    () => parseRunConfig({ ...(config as object), task: SYNTHETIC_ADDITION }),
    /rollout\.maxRefillRounds[\s\S]*needs a math task with task\.reward\.dynamicSampling/,
  );
});

it('refill rounds: the next prompts, their own coordinates, the same on a re-run; the batch ends full', async () => {
  const env = new MockActivityEnvironment();
  const plan = (await env.run(prepareRun, config)) as RunPlan;
  assert.equal(plan.maxRefillRounds, 2);
  const store = openStore(dir);
  const read = async (key: string) =>
    JSON.parse(new TextDecoder().decode(await store.get(key))) as RolloutRecord[];
  const round0 = (await env.run(sampleRollouts, {
    config,
    step: 1,
    shard: 0,
    cursor: plan.cursor,
  })) as SampleRolloutsOutput;
  const round1 = (await env.run(sampleRollouts, {
    config,
    step: 1,
    shard: 0,
    cursor: round0.nextCursor,
    round: 1,
  })) as SampleRolloutsOutput;
  assert.equal(typeof round0.groupsKept, 'number');
  assert.notEqual(round1.key, round0.key);
  const first = await read(round0.key);
  const second = await read(round1.key);
  assert.deepEqual([...new Set(second.map((r) => r.prompt))], [2, 3], 'round 1 owns prompt coordinates 2, 3');
  const size = 50;
  const expectProblems = takeBatch(round0.nextCursor, size, 2).indices;
  assert.deepEqual([...new Set(second.map((r) => r.problem))], [...expectProblems]);
  assert.deepEqual(
    round1.nextCursor,
    takeBatch(round0.nextCursor, size, 2).next,
    'the cursor advances per round',
  );
  // A resumed step re-runs its rounds from the same cursor: identical responses.
  const again = (await env.run(sampleRollouts, {
    config,
    step: 1,
    shard: 0,
    cursor: round0.nextCursor,
    round: 1,
  })) as SampleRolloutsOutput;
  assert.deepEqual(await read(again.key), second);
  assert.deepEqual(again.nextCursor, round1.nextCursor);

  // Responses written by hand so the groups' signal is known: prompt 0 all wrong (dropped), 1 mixed,
  // 2 mixed, 3 mixed. A batch of 2 groups takes prompts 1 and 2, and every row enters the loss.
  const tokenizer = (await modelTokenizer(parseRunConfig(config)))!;
  const sumOf = (r: RolloutRecord) => {
    const terms = [...tokenizer.decode(r.promptIds).matchAll(/(\d+)\s*\+\s*(\d+)/g)].at(-1)!;
    return Number(terms[1]) + Number(terms[2]);
  };
  const answer = (r: RolloutRecord, right: boolean): RolloutRecord => {
    const tokens = tokenizer.encode(`\\boxed{${right ? sumOf(r) : sumOf(r) + 1}}`);
    return {
      ...r,
      tokens,
      logprobs: tokens.map(() => -1),
      sampled: tokens.map(() => true),
      finishReason: 'stop',
    };
  };
  const written = [...first, ...second].map((r) => answer(r, r.prompt > 0 && r.sample === 0));
  const keys = [rolloutKey('refill', 1, 'hand-0.json'), rolloutKey('refill', 1, 'hand-1.json')];
  await store.put(keys[0], new TextEncoder().encode(JSON.stringify(written.slice(0, 4))));
  await store.put(keys[1], new TextEncoder().encode(JSON.stringify(written.slice(4))));
  const scored = (await env.run(scoreRollouts, {
    config,
    step: 1,
    shardKeys: keys,
    rounds: 2,
  })) as ScoreRolloutsOutput;
  assert.equal(scored.groupsWithSignal, 3);
  assert.equal(scored.keptFraction, 1, 'the batch is full of groups with signal');
  assert.equal(scored.accuracy, 0.5);
  const rows = JSON.parse(new TextDecoder().decode(await store.get(scored.key))) as RolloutRow[];
  assert.equal(rows.length, 4);
  const expected = written.filter((r) => r.prompt === 1 || r.prompt === 2).map((r) => r.tokens);
  assert.deepEqual(
    rows.map((r) => r.responseIds),
    expected,
  );
  assert.ok(rows.every((r) => r.advantages.every((a) => a !== 0)));
});
