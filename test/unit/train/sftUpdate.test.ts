/**
 * The SFT step: micro-batching changes memory only (same parameters as one pass over the batch), the
 * forward-only loss agrees with the step's, a tiny model memorises a handful of sequences, and bad input
 * fails naming what is wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initOptimizerState } from '../../../core/graph/index.ts';
import type { HostTensor, OptimizerState } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import type { Qwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import type { SftRow } from '../../../core/train/sftLossGraph.ts';
import { SftUpdater } from '../../../core/train/sftUpdate.ts';

/** torch AdamW's betas and eps, verl's clip; no decay so memorisation is not fought. */
const OPTIMIZER = { betas: [0.9, 0.999] as const, eps: 1e-8, weightDecay: 0, maxGradNorm: 1.0 };
/** Same tolerance as the RL update's accumulation test (policyUpdate.test.ts). */
const PARAM_TOLERANCE = 1e-6;
/**
 * The key bias adds q·b_k to every score of a query, which softmax ignores: its exact gradient is 0, so
 * what AdamW sees is float32 rounding noise, normalised to steps of ≈lr whose sign depends on summation
 * order. It cannot agree across batchings and carries no signal; every other parameter is compared.
 */
const ZERO_GRADIENT = /self_attn\.k_proj\.bias$/;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function initialState(config: Qwen2Config, seed: number): OptimizerState {
  const w = initQwen2Weights(config, seed);
  const params: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(config)) params[p.name] = { data: w.get(p.name)!, dims: p.shape };
  return initOptimizerState(params);
}

/** Distinct prompts, uneven responses, a tool-output token masked out in some rows. */
function traces(n: number, vocab: number, seed: number): SftRow[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const len = 3 + (i % 4);
    return {
      promptIds: [1 + (i % (vocab - 1)), 0],
      responseIds: Array.from({ length: len }, () => Math.floor(r() * vocab)),
      lossMask: i % 3 === 0 ? Array.from({ length: len }, (_, k) => k !== 1) : undefined,
    };
  });
}

const small = makeQwen2Config({
  vocabSize: 20,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
});

test('micro-batched steps give the parameters of whole-batch steps', async () => {
  const rows = traces(8, small.vocabSize, 3);
  const run = async (microBatchSize?: number) => {
    const updater = await SftUpdater.create(small, {
      microBatchSize,
      optimizer: { ...OPTIMIZER, weightDecay: 0.01 },
      aggMode: 'seq-mean-token-mean',
    });
    let state = initialState(small, 1);
    const metrics = [];
    for (let step = 0; step < 2; step++) {
      const r = await updater.update(state, rows, { lr: 1e-2 });
      state = r.state;
      metrics.push(r.metrics);
    }
    return { state, metrics };
  };
  const whole = await run();
  const split = await run(3); // 3 + 3 + 2 rows: the last micro-batch is smaller
  assert.equal(whole.state.step, 2);
  for (const [i, m] of whole.metrics.entries()) {
    const s = split.metrics[i];
    assert.ok(Math.abs(m.loss - s.loss) < 1e-6, `loss of step ${i}: ${m.loss} vs ${s.loss}`);
    assert.ok(Math.abs(m.gradNorm - s.gradNorm) < 1e-5 * m.gradNorm, `grad norm of step ${i}`);
    assert.equal(m.tokens, s.tokens);
  }
  assert.equal(whole.metrics[0].tokens, 8 * 4.5 - 3); // responses of 3..6 tokens, 3 masked tool tokens
  for (const [name, t] of Object.entries(whole.state.params)) {
    if (ZERO_GRADIENT.test(name)) continue;
    const a = t.data as Float32Array;
    const b = split.state.params[name].data as Float32Array;
    for (let i = 0; i < a.length; i++)
      assert.ok(Math.abs(a[i] - b[i]) < PARAM_TOLERANCE, `${name}[${i}]: ${a[i]} vs ${b[i]}`);
  }
});

test('loss() is the step’s pre-update loss, and a step lowers it', async () => {
  const rows = traces(5, small.vocabSize, 8);
  const updater = await SftUpdater.create(small, { microBatchSize: 2, optimizer: OPTIMIZER });
  const state = initialState(small, 2);
  const before = await updater.loss(state.params, rows);
  const { state: next, metrics } = await updater.update(state, rows, { lr: 1e-2 });
  assert.ok(Math.abs(before - metrics.loss) < 1e-6, `eval ${before} vs step ${metrics.loss}`);
  assert.ok(Math.abs(before - Math.log(small.vocabSize)) < 0.1, `initial loss ${before} ≈ ln V`);
  assert.ok((await updater.loss(next.params, rows)) < before);
  assert.equal(metrics.lr, 1e-2);
});

test('a tiny model memorises 8 short traces: loss from ≈ln 16 to < 0.3 within 200 steps', async () => {
  const config = makeQwen2Config({
    vocabSize: 16,
    hiddenSize: 32,
    intermediateSize: 64,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
  });
  const rows = traces(8, config.vocabSize, 21);
  const updater = await SftUpdater.create(config, { optimizer: OPTIMIZER });
  let state = initialState(config, 4);
  const first = await updater.loss(state.params, rows);
  let step = 0;
  let loss = first;
  for (; step < 200 && loss >= 0.3; step++) {
    const r = await updater.update(state, rows, { lr: 1e-2 });
    state = r.state;
    loss = r.metrics.loss;
  }
  loss = await updater.loss(state.params, rows);
  assert.ok(first > 2.5, `initial loss ${first}`);
  assert.ok(loss < 0.3, `loss ${loss} after ${step} steps`);
});

test('bad input fails naming what is wrong', async () => {
  const updater = await SftUpdater.create(small, { optimizer: OPTIMIZER });
  const state = initialState(small, 1);
  await assert.rejects(updater.update(state, [], { lr: 1e-3 }), /SftUpdater: no rows to train on/);
  await assert.rejects(
    updater.update(state, [{ promptIds: [1], responseIds: [2, 3, 4], lossMask: [true, false] }], {
      lr: 1e-3,
    }),
    /sft row 0: lossMask has 2 entries, responseIds has 3/,
  );
  await assert.rejects(
    updater.loss(state.params, [
      { promptIds: [1], responseIds: [2] },
      { promptIds: [1], responseIds: [2, 20] },
    ]),
    /sft row 1: responseIds\[1\] = 20 is outside the vocabulary \[0, 20\)/,
  );
  await assert.rejects(
    SftUpdater.create(small, { optimizer: OPTIMIZER, microBatchSize: 0 }),
    /microBatchSize must be a positive integer \(got 0\)/,
  );
  await assert.rejects(
    SftUpdater.create(small, { optimizer: OPTIMIZER, aggMode: 'seq-mean-token-sum-norm' }),
    /seq-mean-token-sum-norm needs maxLength/,
  );
});
