/**
 * LoRA on the Qwen2 graph: gradients of A and B against central finite differences (float64), the
 * adapted forward against the forward on merged weights W + s·B·A, PEFT's initialisation (B = 0, so a
 * fresh adapter leaves the logits unchanged) and the refusal of unknown target modules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executable } from '../../../core/graph/index.ts';
import type { Feeds } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { buildQwen2Logits } from '../../../core/model/qwen2.ts';
import {
  LORA_TARGET_MODULES,
  initLoraWeights,
  loraModules,
  loraParameterCount,
  loraParameters,
  mergeLoraWeights,
  type LoraSpec,
} from '../../../core/model/lora.ts';
import { gradCheck } from '../graph/gradcheck.ts';

const config = makeQwen2Config({
  vocabSize: 11,
  hiddenSize: 8,
  intermediateSize: 12,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
});
const allLinear: LoraSpec = { rank: 3, alpha: 6, targetModules: LORA_TARGET_MODULES };

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Adapters with B ≠ 0 (a fresh B is zero, which would hide A's gradient and the branch's effect). */
function trainedAdapters(spec: LoraSpec, seed: number): Map<string, Float32Array> {
  const r = rng(seed);
  const a = initLoraWeights(config, spec, seed);
  for (const [name, t] of a)
    if (name.includes('lora_B')) for (let i = 0; i < t.length; i++) t[i] = (r() - 0.5) * 0.5;
  return a;
}

const tokens = {
  input_ids: { data: BigInt64Array.from([0n, 3n, 7n, 1n, 5n, 2n, 9n, 4n]), dims: [2, 4] },
  attention_mask: { data: BigInt64Array.from([0n, 1n, 1n, 1n, 1n, 1n, 1n, 1n]), dims: [2, 4] },
  position_ids: { data: BigInt64Array.from([0n, 0n, 1n, 2n, 0n, 1n, 2n, 3n]), dims: [2, 4] },
};

async function logits(
  weights: Map<string, Float32Array>,
  spec?: LoraSpec,
  adapters?: Map<string, Float32Array>,
) {
  const fwd = buildQwen2Logits(config, 'float32', spec);
  const exec = await Executable.compile(fwd.graph);
  const feeds: Feeds = { ...tokens };
  for (const p of qwen2Parameters(config)) feeds[p.name] = { data: weights.get(p.name)!, dims: p.shape };
  if (spec)
    for (const p of loraParameters(config, spec))
      feeds[p.name] = { data: adapters!.get(p.name)!, dims: p.shape };
  const out = (await exec.run(feeds)).logits.data as Float32Array;
  await exec.release();
  return out;
}

test('the adapted forward equals the forward on merged weights W + (alpha/r)·B·A', async () => {
  const base = initQwen2Weights(config, 4);
  for (const spec of [allLinear, { rank: 2, alpha: 16, targetModules: ['q_proj', 'v_proj'] as const }]) {
    const adapters = trainedAdapters(spec, 8);
    const adapted = await logits(base, spec, adapters);
    const merged = await logits(mergeLoraWeights(config, spec, base, adapters));
    const plain = await logits(base);
    let diff = 0;
    let moved = 0;
    for (let i = 0; i < adapted.length; i++) {
      diff = Math.max(diff, Math.abs(adapted[i] - merged[i]));
      moved = Math.max(moved, Math.abs(adapted[i] - plain[i]));
    }
    assert.ok(diff < 1e-5, `adapted vs merged: max |Δ| ${diff}`);
    assert.ok(moved > 1e-3, `the adapters change the logits (max |Δ| ${moved})`);
  }
});

test('fresh adapters (B = 0) leave the logits exactly as the base model gives them', async () => {
  const base = initQwen2Weights(config, 4);
  const fresh = initLoraWeights(config, allLinear, 1);
  assert.deepEqual(await logits(base, allLinear, fresh), await logits(base));
});

test('initialisation: A ~ U(−1/√in, 1/√in) seeded per tensor, B zeros, shapes [r, in] and [out, r]', () => {
  const a = initLoraWeights(config, allLinear, 7);
  const again = initLoraWeights(config, allLinear, 7);
  const other = initLoraWeights(config, allLinear, 8);
  for (const m of loraModules(config, allLinear)) {
    const A = a.get(m.a.name)!;
    assert.equal(A.length, allLinear.rank * m.in);
    assert.equal(a.get(m.b.name)!.length, m.out * allLinear.rank);
    assert.ok(
      a.get(m.b.name)!.every((x) => x === 0),
      `${m.b.name} is zero`,
    );
    const bound = 1 / Math.sqrt(m.in);
    assert.ok(
      A.every((x) => Math.abs(x) <= bound),
      `${m.a.name} within ±${bound}`,
    );
    assert.ok(Math.max(...A.map(Math.abs)) > bound / 2, `${m.a.name} spans its range`);
    assert.deepEqual(A, again.get(m.a.name));
    assert.notDeepEqual(A, other.get(m.a.name));
  }
  const down = loraModules(config, allLinear).find((m) => m.path === 'model.layers.1.mlp.down_proj')!;
  assert.deepEqual(down.a.shape, [3, 12]);
  assert.deepEqual(down.b.shape, [8, 3]);
  // r·(in + out) per Linear: q 8+8, k 8+4, v 8+4, o 8+8, gate 8+12, up 8+12, down 12+8 = 116 per layer.
  assert.equal(loraParameterCount(config, allLinear), 2 * 3 * 116);
});

test('gradients of lora_A and lora_B match central finite differences (float64)', async () => {
  const spec: LoraSpec = {
    rank: 2,
    alpha: 5,
    targetModules: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'],
  };
  const fwd = buildQwen2Logits(config, 'float64', spec);
  const base = initQwen2Weights(config, 2);
  const adapters = trainedAdapters(spec, 3);
  const feeds: Feeds = { ...tokens };
  for (const p of qwen2Parameters(config))
    feeds[p.name] = { data: Float64Array.from(base.get(p.name)!), dims: p.shape };
  const checked = [
    'model.layers.0.self_attn.q_proj.lora_A.weight',
    'model.layers.0.self_attn.v_proj.lora_B.weight',
    'model.layers.1.self_attn.o_proj.lora_A.weight',
    'model.layers.1.mlp.down_proj.lora_B.weight',
    'model.layers.0.mlp.up_proj.lora_A.weight',
  ];
  const wrt = [];
  for (const p of loraParameters(config, spec)) {
    const data = Float64Array.from(adapters.get(p.name)!);
    if (checked.includes(p.name)) wrt.push({ value: fwd.params.get(p.name)!, data, dims: p.shape });
    else feeds[p.name] = { data, dims: p.shape };
  }
  assert.equal(wrt.length, checked.length);
  const errors = await gradCheck(fwd.graph, { wrt, feeds, out: fwd.logits });
  errors.forEach((e, i) => assert.ok(e < 1e-6, `${checked[i]}: relative error ${e}`));
});

test('an unknown target module or a rank below 1 is refused, naming it', () => {
  assert.throws(
    () => loraModules(config, { rank: 2, alpha: 1, targetModules: ['q_proj', 'qkv_proj' as never] }),
    /unknown target module "qkv_proj"/,
  );
  assert.throws(
    () => loraModules(config, { rank: 0, alpha: 1, targetModules: ['q_proj'] }),
    /rank must be ≥ 1/,
  );
});
