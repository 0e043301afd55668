// rollout.weightDtype: sampleRollouts samples with half-precision matrices when a run asks for it, the
// setting is part of the run's identity only when set, and a bad value is named.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { prepareRun, runConfigHash } from '../../../activities/prepareRun.ts';
import { sampleRollouts } from '../../../activities/sampleRollouts.ts';
import type { RunPlan, SampleRolloutsOutput } from '../../../activities/types.ts';
import { parseRunConfig, runIdentity, RunConfigError } from '../../../core/config/run.ts';
import { openStore } from '../../../core/store/index.ts';

const stores: string[] = [];
after(() => stores.forEach((s) => rmSync(s, { recursive: true, force: true })));

function config(rollout: Record<string, unknown> = {}) {
  const store = mkdtempSync(join(tmpdir(), 'half-rollouts-'));
  stores.push(store);
  return {
    runId: 'half',
    seed: 3,
    steps: 1,
    model: {
      init: {
        seed: 0,
        config: {
          vocabSize: 12,
          hiddenSize: 32,
          intermediateSize: 64,
          numHiddenLayers: 2,
          numAttentionHeads: 4,
          numKeyValueHeads: 2,
          maxPositionEmbeddings: 16,
          eosTokenId: [11],
        },
      },
    },
    task: { kind: 'reverseDigits' as const, digits: 2 },
    rollout: { promptsPerStep: 4, n: 4, maxNewTokens: 3, ...rollout },
    algorithm: { miniBatchSize: 16, microBatchSize: 16 },
    store: { url: store },
  };
}

async function sampled(c: ReturnType<typeof config>) {
  const env = new MockActivityEnvironment();
  const plan = (await env.run(prepareRun, c)) as RunPlan;
  const out = (await env.run(sampleRollouts, {
    config: c,
    step: 1,
    shard: 0,
    cursor: plan.cursor,
  })) as SampleRolloutsOutput;
  const bytes = await openStore(c.store.url).get(out.key);
  return JSON.parse(new TextDecoder().decode(bytes)) as { tokens: number[]; logprobs: number[] }[];
}

it('samples with float16 matrices: log-probs within half-precision rounding of float32', async () => {
  const full = await sampled(config());
  const half = await sampled(config({ weightDtype: 'float16' }));
  assert.equal(half.length, full.length);
  let compared = 0;
  let worst = 0;
  let moved = 0;
  half.forEach((r, i) => {
    // Compare log-probs only along identical prefixes: a flipped token changes everything after it.
    for (let t = 0; t < r.tokens.length && r.tokens[t] === full[i].tokens[t]; t++) {
      const d = Math.abs(r.logprobs[t] - full[i].logprobs[t]);
      worst = Math.max(worst, d);
      if (d > 0) moved++;
      compared++;
    }
  });
  assert.ok(compared >= full.length, `only ${compared} tokens agreed`);
  assert.ok(worst < 1e-2, `max |log-prob float16 − float32| = ${worst}`);
  assert.ok(moved > 0, 'float16 gave float32 log-probs to the bit: the setting did not reach the Generator');
});

it('is in the identity only when set; a bad value is named', () => {
  const unset = parseRunConfig(config());
  assert.ok(!('weightDtype' in (runIdentity(unset).rollout as object)));
  assert.notEqual(runConfigHash(parseRunConfig(config({ weightDtype: 'float16' }))), runConfigHash(unset));
  assert.throws(
    () => parseRunConfig(config({ weightDtype: 'bf16' })),
    (e: Error) =>
      e instanceof RunConfigError &&
      e.issues.includes('run.rollout.weightDtype must be one of "float32", "float16" (got "bf16")'),
  );
});
