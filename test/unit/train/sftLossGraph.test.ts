/**
 * The SFT loss graph against the plain-number reference `sftLossFromLogits` fed by an independent forward
 * pass (buildQwen2Logits), for every aggregation mode; its gradients against central finite differences
 * on a float64 graph; and the packing of rows into its feeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executable, names } from '../../../core/graph/index.ts';
import type { Feeds, HostTensor } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { buildQwen2Logits } from '../../../core/model/qwen2.ts';
import { LOSS_AGG_MODES } from '../../../core/rl/aggregation.ts';
import { sftLossFromLogits } from '../rl/reference/sftLoss.ts';
import {
  buildSftLoss,
  packSftRows,
  sftInputs,
  sftLossNorm,
  sftMetrics,
} from '../../../core/train/sftLossGraph.ts';
import type { SftRow } from '../../../core/train/sftLossGraph.ts';
import { seqStartsFromLengths } from '../../../core/rl/tokens.ts';
import { gradCheck } from '../graph/gradcheck.ts';

/** Float32 graph vs float64 reference over a few hundred log-sum-exps: agreement well inside 1e-5. */
const LOSS_TOLERANCE = 1e-5;
/** Relative gradient error of a float64 graph vs central differences (gradcheck.ts: both ≈1e-10). */
const GRAD_TOLERANCE = 1e-6;
const MAX_LENGTH = 12;

const config = makeQwen2Config({
  vocabSize: 20,
  hiddenSize: 16,
  intermediateSize: 24,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
});

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Uneven prompts and responses, tool-output holes in the mask, one row with nothing to learn. */
function randomRows(n: number, vocab: number, seed: number): SftRow[] {
  const r = rng(seed);
  const tok = () => Math.floor(r() * vocab);
  return Array.from({ length: n }, (_, i) => {
    const P = 1 + (i % 3);
    const R = i === 2 ? 3 : 1 + Math.floor(r() * 6);
    return {
      promptIds: Array.from({ length: P }, tok),
      responseIds: Array.from({ length: R }, tok),
      lossMask:
        i === 2 ? [false, false, false] : Array.from({ length: R }, (_, k) => !(i % 2 === 1 && k === 1)),
    };
  });
}

function weightFeeds(weights: Map<string, Float32Array>): Feeds {
  const feeds: Feeds = {};
  for (const p of qwen2Parameters(config)) feeds[p.name] = { data: weights.get(p.name)!, dims: p.shape };
  return feeds;
}

/** The reference: logits of every row from the plain forward graph, cut into the flat layout. */
async function referenceLoss(weights: Map<string, Float32Array>, rows: SftRow[]) {
  const exec = await Executable.compile(buildQwen2Logits(config).graph);
  const V = config.vocabSize;
  const logits: number[] = [];
  const targets: number[] = [];
  const mask: number[] = [];
  for (const row of rows) {
    const ids = [...row.promptIds, ...row.responseIds];
    const out = await exec.run({
      ...weightFeeds(weights),
      input_ids: { data: BigInt64Array.from(ids.map(BigInt)), dims: [1, ids.length] },
      attention_mask: { data: new BigInt64Array(ids.length).fill(1n), dims: [1, ids.length] },
      position_ids: { data: BigInt64Array.from(ids.map((_, t) => BigInt(t))), dims: [1, ids.length] },
    });
    const l = out.logits.data as Float32Array;
    const P = row.promptIds.length;
    row.responseIds.forEach((t, k) => {
      logits.push(...l.subarray((P + k - 1) * V, (P + k) * V));
      targets.push(t);
      mask.push(row.lossMask?.[k] === false ? 0 : 1);
    });
  }
  await exec.release();
  const seqStarts = seqStartsFromLengths(rows.map((r) => r.responseIds.length));
  return (mode: (typeof LOSS_AGG_MODES)[number]) =>
    sftLossFromLogits(Float32Array.from(logits), V, targets, mask, seqStarts, mode, MAX_LENGTH);
}

test('the graph loss equals sftLossFromLogits on uneven rows, for every aggregation mode', async () => {
  const weights = initQwen2Weights(config, 7);
  const rows = randomRows(6, config.vocabSize, 11);
  const reference = await referenceLoss(weights, rows);
  for (const mode of LOSS_AGG_MODES) {
    const l = buildSftLoss(config, { aggMode: mode });
    l.graph.output(l.loss, names.loss);
    for (const [name, v] of Object.entries(l.metrics)) l.graph.output(v, name);
    const exec = await Executable.compile(l.graph);
    const norm = sftLossNorm(rows, mode, MAX_LENGTH);
    const out = await exec.run({
      ...weightFeeds(weights),
      ...packSftRows(rows),
      [sftInputs.lossNorm]: { data: new Float32Array([norm]), dims: [] },
    });
    await exec.release();
    const got = Number(out[names.loss].data[0]);
    const want = reference(mode);
    assert.ok(want > 0.5, `${mode}: reference loss ${want} is a real cross-entropy`);
    assert.ok(Math.abs(got - want) <= LOSS_TOLERANCE, `${mode}: graph ${got} vs reference ${want}`);
    assert.equal(Number(out[sftMetrics.nll].data[0]), got);
    const tokens = rows.reduce(
      (n, r) => n + r.responseIds.filter((_, k) => r.lossMask?.[k] !== false).length,
      0,
    );
    assert.equal(Number(out[sftMetrics.tokens].data[0]), tokens);
  }
});

test('gradients of the float64 loss match central finite differences', async () => {
  const tiny = makeQwen2Config({
    vocabSize: 9,
    hiddenSize: 8,
    intermediateSize: 12,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    numKeyValueHeads: 1,
  });
  const weights = initQwen2Weights(tiny, 5);
  // Biases start at zero and norms at one: perturb them so their gradients are generic.
  const r = rng(3);
  const rows = randomRows(3, tiny.vocabSize, 4);
  const l = buildSftLoss(tiny, { dtype: 'float64', aggMode: 'seq-mean-token-mean' });
  const packed = packSftRows(rows);
  const feeds: Feeds = {
    ...packed,
    [sftInputs.lossMask]: {
      data: Float64Array.from(packed[sftInputs.lossMask].data as Float32Array),
      dims: packed[sftInputs.lossMask].dims,
    },
    [sftInputs.lossNorm]: { data: new Float64Array([sftLossNorm(rows, 'seq-mean-token-mean')]), dims: [] },
  };
  const checked = [
    'model.embed_tokens.weight',
    'model.layers.0.self_attn.q_proj.bias',
    'model.layers.0.self_attn.k_proj.weight',
    'model.layers.0.mlp.down_proj.weight',
    'model.layers.0.post_attention_layernorm.weight',
    'lm_head.weight',
  ];
  const wrt = [];
  for (const p of l.params) {
    const data = Float64Array.from(weights.get(p.name)!, (x) => x + (r() - 0.5) * 0.4);
    const dims = p.shape as number[];
    if (checked.includes(p.name)) wrt.push({ value: p, data, dims });
    else feeds[p.name] = { data, dims } satisfies HostTensor;
  }
  assert.equal(wrt.length, checked.length);
  const errors = await gradCheck(l.graph, { wrt, feeds, out: l.loss });
  errors.forEach((e, i) => assert.ok(e < GRAD_TOLERANCE, `${checked[i]}: relative error ${e}`));
});

test('packSftRows: response token k at P + k − 1, prompts and masked tokens out of the loss', () => {
  const feeds = packSftRows(
    [
      { promptIds: [5, 6], responseIds: [7, 8, 9] },
      { promptIds: [4], responseIds: [3, 2], lossMask: [true, false] },
    ],
    1,
  );
  assert.deepEqual(feeds.input_ids.dims, [2, 5]);
  assert.deepEqual([...feeds.input_ids.data], [5n, 6n, 7n, 8n, 9n, 4n, 3n, 2n, 1n, 1n]);
  assert.deepEqual([...feeds.attention_mask.data], [1n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, 0n, 0n]);
  assert.deepEqual(feeds[sftInputs.lossMask].dims, [2, 4]);
  assert.deepEqual([...feeds[sftInputs.lossMask].data], [0, 1, 1, 1, 1, 0, 0, 0]);
});

test('packSftRows: bad rows fail naming the row and the field', () => {
  assert.throws(() => packSftRows([]), /packSftRows: no rows/);
  assert.throws(
    () =>
      packSftRows([
        { promptIds: [1], responseIds: [2] },
        { promptIds: [1], responseIds: [2, 3], lossMask: [true] },
      ]),
    /sft row 1: lossMask has 1 entries, responseIds has 2/,
  );
  assert.throws(() => packSftRows([{ promptIds: [], responseIds: [2] }]), /sft row 0: empty prompt/);
});
