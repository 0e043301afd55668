/**
 * The trainers' gradientCheckpointing switch: with it, the RL update (one micro-batch, micro-batch
 * accumulation, log-probs in token chunks) and the SFT step end in the same parameters and optimizer
 * state, bit for bit, as without it, whole layers recomputed (true) or all but their projections
 * ("selective") — recomputation changes memory and time only; the config fields default to false and
 * reject anything but true, false and "selective" by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initOptimizerState } from '../../../core/graph/index.ts';
import type { HostTensor, OptimizerState } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { parseRlAlgorithmConfig } from '../../../core/config/rl.ts';
import { sftSectionSchema } from '../../../core/config/sft.ts';
import { PolicyUpdater } from '../../../core/train/policyUpdate.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';
import { SftUpdater } from '../../../core/train/sftUpdate.ts';
import type { TrainSteps } from '../../../core/train/trainSteps.ts';

/** The compiled step graph's key (sha256 of the ONNX bytes): shows the switch reached the graph. */
async function graphKey(updater: PolicyUpdater | SftUpdater): Promise<string> {
  // A PolicyUpdater holds a graph per temperature case; these tests update at T = 1.
  const held = (updater as unknown as { steps: TrainSteps | { unit: TrainSteps } }).steps;
  const steps = 'unit' in held ? held.unit : held;
  return (await steps.gradStep()).key;
}

const config = makeQwen2Config({
  vocabSize: 20,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
});

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function initialState(): OptimizerState {
  const w = initQwen2Weights(config, 4);
  const params: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(config)) params[p.name] = { data: w.get(p.name)!, dims: p.shape };
  return initOptimizerState(params);
}

function rolloutRows(n: number): RolloutRow[] {
  const r = rng(9);
  return Array.from({ length: n }, (_, i) => {
    const len = 2 + (i % 4);
    const adv = r() - 0.5;
    return {
      promptIds: [1 + (i % 5), 2, 3],
      responseIds: Array.from({ length: len }, () => Math.floor(r() * config.vocabSize)),
      oldLogprobs: Array.from({ length: len }, () => -3 + r() * 0.2),
      sampled: Array.from({ length: len }, (_, k) => !(i % 3 === 0 && k === 1)),
      advantages: Array.from({ length: len }, () => adv),
    };
  });
}

/** Every tensor of the state (parameters, m, v) compared as bytes. */
function assertSameState(a: OptimizerState, b: OptimizerState): void {
  assert.equal(a.step, b.step);
  for (const part of ['params', 'm', 'v'] as const)
    for (const [name, t] of Object.entries(a[part])) {
      const x = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      const u = b[part][name].data;
      assert.ok(x.equals(Buffer.from(u.buffer, u.byteOffset, u.byteLength)), `${part} ${name} differs`);
    }
}

for (const [label, miniBatchSize, microBatchSize, logProbChunkTokens] of [
  ['one micro-batch', 4, 4, 0],
  ['micro-batch accumulation', 4, 2, 0],
  ['log-probs in token chunks', 4, 4, 3],
] as const) {
  test(`RL update with gradientCheckpointing: the same bits as without (${label})`, async () => {
    const rows = rolloutRows(8);
    const results = [];
    const keys = [];
    for (const gradientCheckpointing of [false, true, 'selective'] as const) {
      const algo = parseRlAlgorithmConfig({
        kl: { placement: 'none' },
        optimizer: { lr: 1e-2 },
        entropyCoef: 0.01,
        miniBatchSize,
        microBatchSize,
        logProbChunkTokens,
        gradientCheckpointing,
      });
      const updater = await PolicyUpdater.create(config, algo);
      keys.push(await graphKey(updater));
      results.push(
        await updater.update(initialState(), rows, { seed: 5, step: 2, temperature: 1, lr: 1e-2, klCoef: 0 }),
      );
    }
    assert.equal(new Set(keys).size, 3, 'each recomputing graph is another graph');
    const [plain, recomputed, selective] = results;
    assert.equal(plain.metrics.length, 2);
    assert.deepEqual(recomputed.metrics, plain.metrics);
    assertSameState(plain.state, recomputed.state);
    assert.deepEqual(selective.metrics, plain.metrics);
    assertSameState(plain.state, selective.state);
  });
}

test('SFT step with gradientCheckpointing: the same bits as without', async () => {
  const r = rng(3);
  const rows = Array.from({ length: 6 }, (_, i) => ({
    promptIds: [1 + i, 0],
    responseIds: Array.from({ length: 3 + (i % 3) }, () => Math.floor(r() * config.vocabSize)),
  }));
  const optimizer = { betas: [0.9, 0.999] as const, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1.0 };
  const states = [];
  const keys = [];
  for (const gradientCheckpointing of [false, true, 'selective'] as const) {
    const updater = await SftUpdater.create(config, { optimizer, microBatchSize: 3, gradientCheckpointing });
    keys.push(await graphKey(updater));
    let state = initialState();
    for (let step = 0; step < 2; step++) state = (await updater.update(state, rows, { lr: 1e-2 })).state;
    states.push(state);
  }
  assert.equal(new Set(keys).size, 3, 'each recomputing graph is another graph');
  assertSameState(states[0], states[1]);
  assertSameState(states[0], states[2]);
});

test('gradientCheckpointing defaults to false and must be true, false or "selective"', () => {
  assert.equal(parseRlAlgorithmConfig({}).gradientCheckpointing, false);
  assert.equal(sftSectionSchema.parse({}).gradientCheckpointing, false);
  assert.equal(
    parseRlAlgorithmConfig({ gradientCheckpointing: 'selective' }).gradientCheckpointing,
    'selective',
  );
  assert.equal(
    sftSectionSchema.parse({ gradientCheckpointing: 'selective' }).gradientCheckpointing,
    'selective',
  );
  assert.throws(
    () => parseRlAlgorithmConfig({ gradientCheckpointing: 'yes' }),
    /algorithm\.gradientCheckpointing must be true, false or "selective" \(got "yes"\)/,
  );
});
