/**
 * Tokens inserted by a tool (sampled: false) never enter the RL loss: they are masked in the packed
 * batch, and changing their log-probs or advantages leaves the update bit for bit unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initOptimizerState } from '../../../core/graph/index.ts';
import type { HostTensor } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { parseRlAlgorithmConfig } from '../../../core/config/rl.ts';
import { PolicyUpdater } from '../../../core/train/policyUpdate.ts';
import { packRows } from '../../../core/train/rolloutBatch.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';

const config = makeQwen2Config({
  vocabSize: 30,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
});

// Response: 3 sampled tokens, a 4-token tool output block (not sampled), 2 sampled tokens.
const sampled = [true, true, true, false, false, false, false, true, true];
function row(toolLogprob: number, toolAdvantage: number): RolloutRow {
  return {
    promptIds: [1, 2, 3, 4],
    responseIds: [5, 6, 7, 20, 21, 22, 23, 8, 9],
    oldLogprobs: sampled.map((s, k) => (s ? -3.1 - 0.01 * k : toolLogprob)),
    sampled,
    advantages: sampled.map((s) => (s ? 0.7 : toolAdvantage)),
  };
}

test('the loss mask is 0 exactly at tool-inserted tokens (and at the prompt)', () => {
  const packed = packRows([row(0, 0)]);
  const mask = Array.from(packed.loss_mask.data as Float32Array);
  // Position P + k − 1 scores response token k; P = 4.
  assert.deepEqual(mask, [0, 0, 0, ...sampled.map((s) => (s ? 1 : 0))]);
});

test('changing only the tool tokens’ log-probs and advantages leaves the update unchanged', async () => {
  const algo = parseRlAlgorithmConfig({
    kl: { placement: 'none' },
    miniBatchSize: 2,
    microBatchSize: 2,
    optimizer: { lr: 1e-2 },
  });
  const updater = await PolicyUpdater.create(config, algo);
  const w = initQwen2Weights(config, 1);
  const params = (): Record<string, HostTensor> =>
    Object.fromEntries(
      qwen2Parameters(config).map((p) => [p.name, { data: w.get(p.name)!.slice(), dims: p.shape }]),
    );
  const ctx = { seed: 1, step: 0, temperature: 1, lr: 1e-2, klCoef: 0 };
  const a = await updater.update(initOptimizerState(params()), [row(0, 0), row(0, 0)], ctx);
  const b = await updater.update(initOptimizerState(params()), [row(-50, 9), row(3, -9)], ctx);
  assert.equal(a.metrics[0].loss, b.metrics[0].loss);
  for (const [name, t] of Object.entries(a.state.params))
    assert.deepEqual(t.data, b.state.params[name].data, `${name} differs`);
});
