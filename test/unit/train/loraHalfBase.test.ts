/**
 * LoRA on a float16 base (algorithm.lora.baseDtype): the trainer holds the frozen matrices at half
 * precision and casts each to float32 where a layer uses it, so its update must equal the float32
 * trainer's fed the same half-rounded base — bit for bit, chunked log-probs or not; and the backward must
 * re-make each layer's casts instead of keeping the forward's (else every layer's float32 copy would live
 * at once, more memory than the float32 base).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGradStep, initOptimizerState, segmentsOf } from '../../../core/graph/index.ts';
import type { HostTensor } from '../../../core/graph/index.ts';
import { liveNodes } from '../../../core/graph/serialize.ts';
import { halfToFloat } from '../../../core/graph/dtype.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { initLoraWeights, loraParameters, type LoraSpec } from '../../../core/model/lora.ts';
import { halfWeights } from '../../../core/model/weightFeeds.ts';
import { parseRlAlgorithmConfig } from '../../../core/config/rl.ts';
import { buildPolicyLoss } from '../../../core/train/policyLossGraph.ts';
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
const ctx = { seed: 5, step: 0, temperature: 0.9, lr: 1e-2, klCoef: 0 };

async function batch(weights: Map<string, Float32Array>): Promise<RolloutRow[]> {
  let s = 7;
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
  const old = await (await ResponseScorer.create(config)).logProbs(weights, rows, 0.9);
  // Old log-probs a little off the policy's, so the ratio and its clipping take part.
  return rows.map((row, i) => ({ ...row, oldLogprobs: old[i].map((x, t) => x + 0.05 * Math.sin(t + i)) }));
}

async function loraRun(
  base: ReadonlyMap<string, Float32Array | Uint16Array>,
  rows: RolloutRow[],
  baseDtype: 'float32' | 'float16',
  logProbChunkTokens: number,
  gradientCheckpointing: true | 'selective' = true,
) {
  const algo = parseRlAlgorithmConfig({
    kl: { placement: 'none' },
    miniBatchSize: 3,
    microBatchSize: 3,
    entropyCoef: 0.01,
    gradientCheckpointing,
    logProbChunkTokens,
    lora: { rank: spec.rank, alpha: spec.alpha, targetModules: [...spec.targetModules], baseDtype },
  });
  const adapters = initLoraWeights(config, spec, 9);
  const params: Record<string, HostTensor> = {};
  for (const p of loraParameters(config, spec))
    params[p.name] = { data: adapters.get(p.name)!.slice(), dims: p.shape };
  const updater = await PolicyUpdater.create(config, algo);
  return updater.update(initOptimizerState(params), rows, ctx, base);
}

/** The float32 values the float16 trainer computes with: each matrix rounded to half, norms as they are. */
function roundedBase(half: ReadonlyMap<string, Float32Array | Uint16Array>): Map<string, Float32Array> {
  return new Map(
    [...half].map(([name, t]) => [name, t instanceof Uint16Array ? Float32Array.from(t, halfToFloat) : t]),
  );
}

for (const [chunk, recompute] of [
  [0, true],
  [3, true],
  [3, 'selective'],
] as const) {
  test(`a float16 base trains the adapters exactly as a float32 base of the same rounded values (chunk ${chunk}, recompute ${recompute})`, async () => {
    const base = initQwen2Weights(config, 3);
    const half = halfWeights(config, (name) => base.get(name)!);
    for (const p of qwen2Parameters(config))
      assert.equal(half.get(p.name) instanceof Uint16Array, p.shape.length === 2, `${p.name} held at half`);
    const rounded = roundedBase(half);
    const changed = [...rounded].filter(([name, t]) => t.some((x, i) => x !== base.get(name)![i]));
    assert.ok(changed.length > 0, 'rounding to half changes the base (else the test proves nothing)');
    const rows = await batch(rounded);
    const ref = await loraRun(rounded, rows, 'float32', chunk, recompute);
    const got = await loraRun(half, rows, 'float16', chunk, recompute);
    assert.equal(got.metrics.length, 2);
    got.metrics.forEach((m, i) => assert.deepEqual(m, ref.metrics[i], `metrics of step ${i + 1}`));
    for (const [name, t] of Object.entries(ref.state.params)) {
      assert.deepEqual(got.state.params[name].data, t.data, name);
      assert.deepEqual(got.state.m[name].data, ref.state.m[name].data, `m ${name}`);
      assert.deepEqual(got.state.v[name].data, ref.state.v[name].data, `v ${name}`);
    }
  });
}

for (const recompute of [true, 'selective'] as const)
  test(`the backward re-makes each layer's float32 casts of the base; it keeps none from the forward (recompute ${recompute})`, () => {
    const loss = buildPolicyLoss(config, { ...lossOpts(), lora: spec, baseDtype: 'float16' });
    const forwardEnd = loss.graph.nodes.length;
    const g = buildGradStep({ ...loss, recompute });
    const backward = liveNodes(g).filter((n) => g.nodes.indexOf(n) >= forwardEnd);
    const read = new Set(backward.flatMap((n) => n.inputs));
    for (const s of segmentsOf(g)) {
      const casts = g.nodes
        .slice(s.start, s.end)
        .filter((n) => n.op === 'Cast' && n.inputs[0].dtype === 'float16' && !n.inputs[0].producer);
      assert.equal(casts.length, 7, `${s.name}: one cast per matrix (4 attention, 3 MLP)`);
      for (const c of casts) assert.ok(!read.has(c.outputs[0]), `${s.name}: the backward reads ${c.name}`);
      const recast = backward.filter(
        (n) =>
          n.op === 'Cast' && n.name.startsWith(`${s.name}.recompute/`) && n.inputs[0].dtype === 'float16',
      );
      // Selectively, q, k and v are kept, so only their input gradient needs their matrices: the first
      // layer's inputs lead to nothing trained, and it re-makes o, gate, up and down's casts only.
      const expected = recompute === 'selective' && s.name === 'layers.0' ? 4 : 7;
      assert.equal(recast.length, expected, `${s.name}: the recomputed layer casts its matrices again`);
    }
    assert.throws(
      () => buildPolicyLoss(config, { ...lossOpts(), baseDtype: 'float16' }),
      /a float16 base is for LoRA only/,
    );
  });

function lossOpts() {
  return { clip: { low: 0.2, high: 0.2 }, aggMode: 'token-mean' as const, entropyBonus: false };
}

test('a scorer built for the float16 base scores as the float32 one on the rounded base, adapters unmerged', async () => {
  const base = initQwen2Weights(config, 3);
  const half = halfWeights(config, (name) => base.get(name)!);
  const rounded = roundedBase(half);
  // Adapters with B ≠ 0, as a checkpoint after some steps holds them.
  const adapters = initLoraWeights(config, spec, 9);
  for (const p of loraParameters(config, spec))
    if (p.name.endsWith('lora_B.weight'))
      adapters.get(p.name)!.forEach((_, i, b) => (b[i] = 0.01 * Math.sin(i)));
  const rows = [
    { promptIds: [1, 2, 3], responseIds: [4, 5, 6] },
    { promptIds: [7], responseIds: [8, 9, 10, 11] },
  ];
  const lora = { lora: spec };
  const f32 = await ResponseScorer.create(config, {}, 0, lora);
  const f16 = await ResponseScorer.create(config, {}, 0, { ...lora, weightDtype: 'float16' });
  const want = await f32.logProbs(rounded, rows, 0.9, 16, adapters);
  assert.deepEqual(await f16.logProbs(half, rows, 0.9, 16, adapters), want);
  const onBase = await f32.logProbs(base, rows, 0.9, 16, adapters);
  assert.notDeepEqual(onBase, want, 'the rounding shows in the scores');
  await assert.rejects(f16.logProbs(half, rows, 0.9), /a LoRA scorer needs the adapters/);
});
