/**
 * The actor update with LoRA: only the adapters (and their AdamW moments) are trained; the base weights
 * are fed unchanged; the first step's loss equals full-parameter training's (fresh adapters leave the
 * policy as it is); the result is bit-identical run to run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initOptimizerState } from '../../../core/graph/index.ts';
import type { HostTensor } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { initLoraWeights, loraParameters, type LoraSpec } from '../../../core/model/lora.ts';
import { parseRlAlgorithmConfig } from '../../../core/config/rl.ts';
import { PolicyUpdater } from '../../../core/train/policyUpdate.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';
import { ResponseScorer } from '../../../core/train/responseLogProbs.ts';

const config = makeQwen2Config({
  vocabSize: 20,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
});
const spec: LoraSpec = { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'up_proj', 'down_proj'] };

async function batch(weights: Map<string, Float32Array>): Promise<RolloutRow[]> {
  let s = 11;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const rows = Array.from({ length: 6 }, (_, i) => {
    const len = 2 + (i % 3);
    const adv = r() - 0.5;
    return {
      promptIds: [1 + (i % 5), 2, 3],
      responseIds: Array.from({ length: len }, () => Math.floor(r() * 20)),
      oldLogprobs: [] as number[],
      sampled: Array.from({ length: len }, () => true),
      advantages: Array.from({ length: len }, () => adv),
    };
  });
  const old = await (await ResponseScorer.create(config)).logProbs(weights, rows, 1);
  return rows.map((row, i) => ({ ...row, oldLogprobs: old[i] }));
}

const ctx = { seed: 5, step: 0, temperature: 1, lr: 1e-2, klCoef: 0 };
const algoInput = { kl: { placement: 'none' as const }, miniBatchSize: 3, microBatchSize: 3 };

async function loraRun(base: Map<string, Float32Array>, rows: RolloutRow[], gradientCheckpointing = false) {
  const algo = parseRlAlgorithmConfig({
    ...algoInput,
    gradientCheckpointing,
    lora: { rank: spec.rank, alpha: spec.alpha, targetModules: [...spec.targetModules] },
  });
  const adapters = initLoraWeights(config, spec, 9);
  const params: Record<string, HostTensor> = {};
  for (const p of loraParameters(config, spec))
    params[p.name] = { data: adapters.get(p.name)!.slice(), dims: p.shape };
  const updater = await PolicyUpdater.create(config, algo);
  return updater.update(initOptimizerState(params), rows, ctx, base);
}

test('LoRA trains the adapters only, from the loss full-parameter training starts at', async () => {
  const base = initQwen2Weights(config, 3);
  const baseCopy = new Map([...base].map(([k, v]) => [k, v.slice()]));
  const rows = await batch(base);
  const lora = await loraRun(base, rows);
  const names = loraParameters(config, spec)
    .map((p) => p.name)
    .sort();
  assert.deepEqual(Object.keys(lora.state.params).sort(), names);
  assert.deepEqual(Object.keys(lora.state.m).sort(), names, 'AdamW moments for the adapters only');
  assert.deepEqual(Object.keys(lora.state.v).sort(), names);
  assert.equal(lora.state.step, 2);
  for (const [k, v] of base) assert.deepEqual(v, baseCopy.get(k), `${k} untouched`);
  const b = lora.state.params['model.layers.1.mlp.down_proj.lora_B.weight'].data as Float32Array;
  assert.ok(
    b.some((x) => x !== 0),
    'B moved off zero',
  );

  const full = parseRlAlgorithmConfig(algoInput);
  const params: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(config))
    params[p.name] = { data: base.get(p.name)!.slice(), dims: p.shape };
  const fullRun = await (
    await PolicyUpdater.create(config, full)
  ).update(initOptimizerState(params), rows, ctx);
  // Step 1 runs the same policy (B = 0) on the same mini-batch: the same loss.
  assert.ok(Math.abs(lora.metrics[0].pgLoss - fullRun.metrics[0].pgLoss) < 1e-7, 'first-step pg_loss');
  assert.ok(Math.abs(lora.metrics[0].approxKl - fullRun.metrics[0].approxKl) < 1e-7);
  assert.notEqual(lora.metrics[0].gradNorm, fullRun.metrics[0].gradNorm, 'the gradients are the adapters’');
});

test('LoRA updates are bit-identical run to run, and refuse to run without the base weights', async () => {
  const base = initQwen2Weights(config, 3);
  const rows = await batch(base);
  const a = await loraRun(base, rows);
  const b = await loraRun(base, rows);
  for (const [name, t] of Object.entries(a.state.params)) {
    assert.deepEqual(b.state.params[name].data, t.data, name);
    assert.deepEqual(b.state.v[name].data, a.state.v[name].data, `v ${name}`);
  }
  const algo = parseRlAlgorithmConfig({ ...algoInput, lora: { rank: 4 } });
  const updater = await PolicyUpdater.create(config, algo);
  await assert.rejects(updater.update(initOptimizerState({}), rows, ctx), /LoRA needs the base weights/);
});

test('LoRA with per-layer recomputation gives the same adapters and moments bit for bit', async () => {
  const base = initQwen2Weights(config, 3);
  const rows = await batch(base);
  const plain = await loraRun(base, rows);
  const recomputed = await loraRun(base, rows, true);
  for (const [name, t] of Object.entries(plain.state.params)) {
    assert.deepEqual(recomputed.state.params[name].data, t.data, name);
    assert.deepEqual(recomputed.state.m[name].data, plain.state.m[name].data, `m ${name}`);
  }
});
