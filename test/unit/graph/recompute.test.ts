/**
 * Activation recomputation (core/graph/recompute.ts) on the Qwen2 decoder, whose layers are marked as
 * segments: every parameter gradient equals the plain backward's bit for bit, at onnxruntime's lowest and
 * highest optimization levels, and so do LoRA adapters' when only they are trained, with whole layers
 * recomputed or all but their projections (selective); a float64 graph with either matches central finite
 * differences; no backward node reads a layer's internal activations; selective recomputation re-runs no
 * projection; and the recomputed nodes survive onnxruntime's graph optimizer (its common-subexpression
 * elimination would merge plain copies into the originals).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  Executable,
  Graph,
  buildGradStep,
  checkpoint,
  grad,
  op,
  segmentsOf,
  serialize,
} from '../../../core/graph/index.ts';
import type { Feeds, HostTensor, Value } from '../../../core/graph/index.ts';
import { liveNodes } from '../../../core/graph/serialize.ts';
import { onnx } from '../../../core/graph/onnxProto.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { buildSftLoss, packSftRows, sftInputs, sftLossNorm } from '../../../core/train/sftLossGraph.ts';
import { buildQwen2Logits } from '../../../core/model/qwen2.ts';
import { LORA_TARGET_MODULES, loraParameters } from '../../../core/model/lora.ts';
import type { SftRow } from '../../../core/train/sftLossGraph.ts';
import { gradCheck } from './gradcheck.ts';

/** Relative gradient error of a float64 graph vs central differences (gradcheck.ts: both ≈1e-10). */
const GRAD_TOLERANCE = 1e-6;

const config = makeQwen2Config({
  vocabSize: 20,
  hiddenSize: 16,
  intermediateSize: 24,
  numHiddenLayers: 3,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
});

const rows: SftRow[] = [
  { promptIds: [1, 2, 3], responseIds: [4, 5, 6, 7] },
  { promptIds: [3], responseIds: [9, 8], lossMask: [true, false] },
  { promptIds: [7, 7], responseIds: [1, 2, 3, 4, 5] },
];

function feedsFor(weights: Map<string, Float32Array>): Feeds {
  const feeds: Feeds = packSftRows(rows);
  feeds[sftInputs.lossNorm] = { data: new Float32Array([sftLossNorm(rows, 'token-mean')]), dims: [] };
  for (const p of qwen2Parameters(config)) feeds[p.name] = { data: weights.get(p.name)!, dims: p.shape };
  return feeds;
}

function bytes(t: HostTensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

test('the decoder layers are marked as segments, recomputed from the layer input', () => {
  const l = buildSftLoss(config);
  const segments = segmentsOf(l.graph);
  assert.deepEqual(
    segments.map((s) => s.name),
    ['layers.0', 'layers.1', 'layers.2'],
  );
  for (const s of segments) {
    assert.equal(s.inputs.length, 1);
    assert.deepEqual(s.inputs[0].shape, ['batch', 'seq', config.hiddenSize]);
  }
});

for (const optimization of ['disabled', 'all'] as const) {
  test(`every parameter gradient with recomputation equals the plain graph's bit for bit (ORT ${optimization})`, async () => {
    const feeds = feedsFor(initQwen2Weights(config, 7));
    const results = [];
    let metrics = 0;
    for (const recompute of [false, true, 'selective'] as const) {
      const l = buildSftLoss(config);
      metrics = Object.keys(l.metrics).length;
      const exec = await Executable.compile(buildGradStep({ ...l, recompute }), {
        optimization,
      });
      results.push(await exec.run(feeds));
      await exec.release();
    }
    const [plain, recomputed, selective] = results;
    const names = Object.keys(plain);
    const params = qwen2Parameters(config).length;
    assert.equal(names.length, 1 + metrics + params, 'the loss, the metrics, one gradient per parameter');
    for (const name of names) {
      assert.ok(
        bytes(plain[name]).some((b) => b !== 0),
        `${name} is not all zeros`,
      );
      assert.ok(bytes(plain[name]).equals(bytes(recomputed[name])), `${name} differs`);
      assert.ok(bytes(plain[name]).equals(bytes(selective[name])), `${name} differs (selective)`);
    }
  });
}

test('LoRA adapters as the only trainable inputs: their gradients with recomputation equal the plain ones bit for bit', async () => {
  const spec = { rank: 4, alpha: 8, targetModules: LORA_TARGET_MODULES };
  const feeds: Feeds = {};
  const w = initQwen2Weights(config, 3);
  for (const p of qwen2Parameters(config)) feeds[p.name] = { data: w.get(p.name)!, dims: p.shape };
  // Both factors non-zero (PEFT starts B at zero, which would zero A's gradient).
  let s = 7;
  const draw = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.2;
  for (const p of loraParameters(config, spec))
    feeds[p.name] = { data: Float32Array.from({ length: p.shape[0] * p.shape[1] }, draw), dims: p.shape };
  const tokens = (xs: number[]) => ({ data: BigInt64Array.from(xs.map(BigInt)), dims: [2, 4] });
  feeds.input_ids = tokens([1, 2, 3, 4, 5, 6, 7, 8]);
  feeds.attention_mask = tokens([1, 1, 1, 1, 0, 1, 1, 1]);
  feeds.position_ids = tokens([0, 1, 2, 3, 0, 0, 1, 2]);
  const results = [];
  for (const recompute of [false, true, 'selective'] as const) {
    const f = buildQwen2Logits(config, 'float32', spec);
    const adapters = loraParameters(config, spec).map((p) => f.params.get(p.name)!);
    const grads = grad(op.sumAll(op.mul(f.logits, op.cos(f.logits))), adapters, { recompute });
    grads.forEach((gr, i) => f.graph.output(gr, `grad_${i}`));
    const copies = liveNodes(f.graph).filter((n) => n.name.includes('.recompute/')).length;
    assert.equal(copies > 0, recompute !== false, `${copies} recomputed nodes`);
    const exec = await Executable.compile(f.graph);
    results.push(await exec.run(feeds));
    await exec.release();
  }
  for (const name of Object.keys(results[0])) {
    assert.ok(
      bytes(results[0][name]).some((b) => b !== 0),
      `${name} is not all zeros`,
    );
    assert.ok(bytes(results[0][name]).equals(bytes(results[1][name])), `${name} differs`);
    assert.ok(bytes(results[0][name]).equals(bytes(results[2][name])), `${name} differs (selective)`);
  }
});

for (const recompute of [true, 'selective'] as const) {
  test(`with recomputation (${recompute === true ? 'full' : recompute}), gradients of a float64 two-layer loss match central finite differences`, async () => {
    const tiny = makeQwen2Config({
      vocabSize: 9,
      hiddenSize: 8,
      intermediateSize: 12,
      numHiddenLayers: 2,
      numAttentionHeads: 2,
      numKeyValueHeads: 1,
    });
    const weights = initQwen2Weights(tiny, 5);
    const l = buildSftLoss(tiny, { dtype: 'float64', aggMode: 'seq-mean-token-mean' });
    const small: SftRow[] = [
      { promptIds: [1, 2, 3], responseIds: [4, 5, 6] },
      { promptIds: [8], responseIds: [0, 7], lossMask: [true, false] },
    ];
    const packed = packSftRows(small);
    const feeds: Feeds = {
      ...packed,
      [sftInputs.lossMask]: {
        data: Float64Array.from(packed[sftInputs.lossMask].data as Float32Array),
        dims: packed[sftInputs.lossMask].dims,
      },
      [sftInputs.lossNorm]: { data: new Float64Array([sftLossNorm(small, 'seq-mean-token-mean')]), dims: [] },
    };
    // One tensor of each kind inside both recomputed layers, and one outside them.
    const checked = [
      'model.layers.0.self_attn.q_proj.bias',
      'model.layers.0.mlp.up_proj.weight',
      'model.layers.1.self_attn.k_proj.weight',
      'model.layers.1.input_layernorm.weight',
      'model.embed_tokens.weight',
    ];
    let s = 3;
    const jitter = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.4;
    const wrt = [];
    for (const p of l.params) {
      // Biases start at zero and norms at one: perturbed so their gradients are generic.
      const data = Float64Array.from(weights.get(p.name)!, (x) => x + jitter());
      const dims = p.shape as number[];
      if (checked.includes(p.name)) wrt.push({ value: p, data, dims });
      else feeds[p.name] = { data, dims };
    }
    // Level "basic" (which includes common-subexpression elimination): at "extended" and above onnxruntime
    // fuses the forward's x·sigmoid(x), now read by nothing else, into com.microsoft QuickGelu, which has
    // no float64 kernel (the plain backward reads the sigmoid, so it never fuses there).
    const errors = await gradCheck(l.graph, {
      wrt,
      feeds,
      out: l.loss,
      recompute,
      session: { optimization: 'basic' },
    });
    errors.forEach((e, i) => assert.ok(e < GRAD_TOLERANCE, `${checked[i]}: relative error ${e}`));
  });
}

test('no backward node reads a layer internal activation; every recomputed node waits for the layer output gradient', () => {
  const l = buildSftLoss(config);
  const forwardEnd = l.graph.nodes.length;
  // The gradients-only step names each parameter gradient `grad.<name>`.
  const g = buildGradStep({ ...l, recompute: true });
  const live = liveNodes(g);
  const backward = live.filter((n) => g.nodes.indexOf(n) >= forwardEnd);
  const read = new Set(backward.flatMap((n) => n.inputs));
  const segments = segmentsOf(g);
  for (const s of segments) {
    const nodes = g.nodes.slice(s.start, s.end);
    const outputs = new Set(nodes.flatMap((n) => n.outputs));
    // The layer output is consumed by the next layer (or the final norm): that is what the segment saves.
    const internal = [...outputs].filter(
      (v) => v.dtype !== 'int64' && !g.nodes.slice(s.end).some((n) => n.inputs.includes(v)),
    );
    assert.ok(internal.length > 20, `${s.name}: ${internal.length} internal values`);
    for (const v of internal) assert.ok(!read.has(v), `${s.name}: the backward reads ${v.name}`);
  }
  // Every recomputed node but the barriers' own descends from a barrier (a Where of the layer input with
  // itself under a condition read from the gradient): none can run before the backward reaches its layer.
  const recomputed = backward.filter((n) => n.name.includes('.recompute/'));
  const barrierNodes = recomputed.filter((n) => n.name.includes('.recompute/barrier/'));
  const barriers = barrierNodes.filter((n) => n.op === 'Where' && n.inputs[1] === n.inputs[2]);
  assert.equal(barriers.length, segments.length, 'one barrier per layer');
  // Layer i's copy also waits for layer i + 1's weight gradients, which onnxruntime's depth-first order
  // would otherwise leave to the end (read only by the clipping norm), holding layer i + 1's copies.
  for (let i = 0; i + 1 < config.numHiddenLayers; i++) {
    const waited = new Set(
      barrierNodes
        .filter((n) => n.name.startsWith(`layers.${i}.recompute/`))
        .flatMap((n) => n.inputs.map((v) => v.name)),
    );
    const next = qwen2Parameters(config).filter((p) => p.name.startsWith(`model.layers.${i + 1}.`));
    assert.equal(next.length, 12);
    for (const p of next) assert.ok(waited.has(`grad.${p.name}`), `layers.${i} waits for grad.${p.name}`);
  }
  const waits = new Set<Value>(barriers.flatMap((n) => n.outputs));
  for (const n of recomputed) {
    if (barrierNodes.includes(n)) continue;
    assert.ok(
      n.inputs.some((v) => waits.has(v)),
      `${n.name} (${n.op}) could run before the backward reaches its layer`,
    );
    n.outputs.forEach((o) => waits.add(o));
  }
});

test('selective recomputation re-runs no projection: the backward reads the kept q, k, v, o, gate, up and recomputes only what lies between them', () => {
  const matmuls = (recompute: true | 'selective') => {
    const l = buildSftLoss(config);
    const g = buildGradStep({ ...l, recompute });
    const recomputed = liveNodes(g).filter((n) => n.name.includes('.recompute/'));
    return { g, recomputed, count: (op: string) => recomputed.filter((n) => n.op === op).length };
  };
  const full = matmuls(true);
  const selective = matmuls('selective');
  const layers = config.numHiddenLayers;
  // Full: the 6 projections the backward needs re-run (down's output is read by nothing) and attention's
  // two products; selective: attention's two products only.
  assert.equal(full.count('MatMul'), layers * (6 + 2));
  assert.equal(selective.count('MatMul'), layers * 2);
  for (const s of segmentsOf(selective.g)) {
    assert.equal(s.kept.length, 6, `${s.name} keeps its six projections`);
    const barriers = selective.recomputed.filter(
      (n) => n.name.startsWith(`${s.name}.recompute/barrier/`) && n.op === 'Where',
    );
    // The layer input and each kept value, each read through the barrier.
    assert.deepEqual(new Set(barriers.map((n) => n.inputs[1])), new Set([...s.inputs, ...s.kept]));
  }
});

test("the recomputed nodes survive onnxruntime's optimizer (CSE would merge plain copies back)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recompute-'));
  try {
    const model = serialize(buildGradStep({ ...buildSftLoss(config), recompute: true }));
    const path = join(dir, 'optimized.onnx');
    const session = await ort.InferenceSession.create(model, {
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: path,
      logSeverityLevel: 3,
    });
    await session.release();
    const nodes = onnx.ModelProto.decode(readFileSync(path)).graph!.node!;
    const recomputed = nodes.filter((n) => (n.name ?? '').includes('.recompute/'));
    const count = (op: string) => recomputed.filter((n) => n.opType === op).length;
    // Per layer: one softmax and one sigmoid recomputed for the gradient rules that read them.
    assert.equal(count('Softmax'), config.numHiddenLayers);
    assert.equal(count('Sigmoid'), config.numHiddenLayers);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('segments cannot nest; a recomputed node with a subgraph is refused by name', () => {
  const g = new Graph('nest');
  const x = g.input('x', 'float32', [2]);
  assert.throws(
    () => checkpoint('outer', [x], () => checkpoint('inner', [x], () => op.add(x, 1))),
    /checkpoint "inner": segments cannot nest/,
  );
  const h = new Graph('loopy');
  const y = h.input('y', 'float32', [2]);
  const out = checkpoint('withLoop', [y], () => {
    const r = op.loop(h, {
      trips: 2,
      carried: [{ initial: y, bodyShape: [2], finalShape: [2] }],
      body: (b) => ({ carried: [op.mul(b.carried[0], 2)], scans: [] }),
    });
    return op.sin(r.carried[0]);
  });
  assert.throws(
    () => grad(op.sumAll(out), [y], { recompute: true }),
    /recompute "withLoop": node "[^"]*Loop[^"]*" \(Loop\) has a subgraph and cannot be re-emitted/,
  );
});
