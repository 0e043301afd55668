/** The update loop: micro-batching changes memory only; mini-batches and epochs give the planned steps. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initOptimizerState } from '../../../core/graph/index.ts';
import type { HostTensor } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { parseRlAlgorithmConfig } from '../../../core/config/rl.ts';
import type { RlAlgorithmConfigInput } from '../../../core/config/rl.ts';
import { PolicyUpdater } from '../../../core/train/policyUpdate.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';
import { ResponseScorer } from '../../../core/train/responseLogProbs.ts';

const config = makeQwen2Config({
  vocabSize: 20,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
});

function rows(n: number): RolloutRow[] {
  let s = 9;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: n }, (_, i) => {
    const len = 2 + (i % 4);
    const adv = r() - 0.5;
    return {
      promptIds: [1 + (i % 5), 2, 3],
      responseIds: Array.from({ length: len }, () => Math.floor(r() * 20)),
      oldLogprobs: Array.from({ length: len }, () => -3 + r() * 0.2),
      // A tool-inserted token in the middle of some responses.
      sampled: Array.from({ length: len }, (_, k) => !(i % 3 === 0 && k === 1)),
      advantages: Array.from({ length: len }, () => adv),
    };
  });
}

async function run(overrides: RlAlgorithmConfigInput, onMicroBatch?: (done: number, total: number) => void) {
  const algo = parseRlAlgorithmConfig({ kl: { placement: 'none' }, optimizer: { lr: 1e-2 }, ...overrides });
  const w = initQwen2Weights(config, 3);
  const params: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(config)) params[p.name] = { data: w.get(p.name)!, dims: p.shape };
  const updater = await PolicyUpdater.create(config, algo);
  // The sampling policy is the initial policy: its log-probs of the responses, as a rollout would record.
  const batch = rows(8);
  const scorer = await ResponseScorer.create(config);
  const old = await scorer.logProbs(w, batch, 1);
  const sampled = batch.map((r, i) => ({ ...r, oldLogprobs: old[i] }));
  return updater.update(initOptimizerState(params), sampled, {
    seed: 5,
    step: 2,
    temperature: 1,
    lr: 1e-2,
    klCoef: 0,
    onMicroBatch,
  });
}

test('gradient accumulation over micro-batches gives the parameters of one big micro-batch', async () => {
  const whole = await run({ miniBatchSize: 4, microBatchSize: 4 });
  const split = await run({ miniBatchSize: 4, microBatchSize: 1 });
  assert.equal(whole.metrics.length, 2);
  assert.equal(split.metrics.length, 2);
  for (const [i, m] of whole.metrics.entries()) {
    assert.ok(Math.abs(m.pgLoss - split.metrics[i].pgLoss) < 1e-6, `pg_loss of step ${i}`);
    assert.ok(Math.abs(m.gradNorm - split.metrics[i].gradNorm) < 1e-5 * m.gradNorm, `grad norm of step ${i}`);
  }
  for (const [name, t] of Object.entries(whole.state.params)) {
    const a = t.data as Float32Array;
    const b = split.state.params[name].data as Float32Array;
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-6, `${name}[${i}]`);
  }
});

test('on-policy (one step) vs off-policy (two epochs × two mini-batches): step counts and ratios', async () => {
  const on = await run({ miniBatchSize: 8, microBatchSize: 8, epochs: 1 });
  const off = await run({ miniBatchSize: 4, microBatchSize: 2, epochs: 2 });
  assert.equal(on.state.step, 1);
  assert.equal(off.state.step, 4);
  // The first step of either sees the sampling policy itself: no clipping; later off-policy steps drift.
  assert.equal(on.metrics[0].clipFracHigh + on.metrics[0].clipFracLow, 0);
  assert.ok(Math.abs(off.metrics[3].approxKl) > Math.abs(off.metrics[0].approxKl));
});

test('each micro-batch is announced before it runs, in order (the trainer heartbeats with it)', async () => {
  const seen: [number, number][] = [];
  await run({ miniBatchSize: 4, microBatchSize: 2, epochs: 2 }, (done, total) => seen.push([done, total]));
  // 8 rows: 2 epochs × 2 mini-batches × 2 micro-batches.
  assert.deepEqual(
    seen,
    Array.from({ length: 8 }, (_, i) => [i, 8]),
  );
});
