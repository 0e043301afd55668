/**
 * Token log-probs and entropies over a large vocabulary without the [tokens, vocab] block: the lm_head
 * product, log-softmax, gather and entropy fused per chunk of `chunk` tokens in an ONNX Loop, so
 * onnxruntime holds one [chunk, vocab] block at a time instead of the whole [tokens, vocab] logits (5 GB
 * for 8 × 1,024 tokens at Qwen2.5's 151,936 words).
 *
 * The gradient is a second Loop that recomputes each chunk's logits (as verl's fused linear-cross-entropy
 * kernel and Liger-Kernel's fused linear CE do: storing them would defeat the point) and yields d hidden
 * per chunk (concatenated) and d lmHead (a loop-carried [V, H] sum, accumulated by Gemm in place of a
 * transposed copy). With z = h·Wᵀ/T, p = softmax(z), lp = log p, H = −Σ p·lp and upstream gradients
 * gl (of lp[target]) and ge (of H):  dz = [gl·(onehot − p) − ge·p·(lp + H)] / T.
 */
import type { Dim } from '../dim.ts';
import { dimProduct, formatShape } from '../dim.ts';
import { GraphError } from '../graph.ts';
import type { Graph, Value } from '../graph.ts';
import { add, div, exp, mul, neg, sub } from './elementwise.ts';
import { gatherElements, scatterElementsAdd } from './gather.ts';
import { loop } from './loop.ts';
import { gemm, matmul } from './matmul.ts';
import { concat, reshape, squeeze, unsqueeze, zeros } from './shape.ts';
import { logSoftmax, softmax } from './softmax.ts';
import { apply, attr, dimValue, shapeAttr } from './util.ts';

export interface ChunkedTokenLogProbs {
  /** log softmax(h·Wᵀ/T)[target], shaped like `targets`. */
  logProbs: Value;
  /** −Σ p·log p of the same distribution, shaped like `targets`. */
  entropy: Value;
}

/**
 * `hidden` [..., H], `lmHead` [V, H], `targets` [...] int64 (same leading shape), `temperature` a scalar
 * of hidden's dtype; `chunk` tokens per Loop iteration (the last one may be shorter).
 */
export function chunkedTokenLogProbs(
  hidden: Value,
  lmHead: Value,
  targets: Value,
  temperature: Value,
  chunk: number,
): ChunkedTokenLogProbs {
  const g = hidden.graph;
  checkOperands(hidden, lmHead, targets, temperature, chunk);
  const lead = hidden.shape.slice(0, -1);
  const rows = dimProduct(lead);
  const h = reshape(hidden, [rows, hidden.shape[hidden.rank - 1]]);
  const t = reshape(targets, [rows]);
  const trips = chunkCount(g, rows, chunk);
  const scores = chunkScores(h, lmHead, t, temperature, chunk);
  const { carried } = loop(
    g,
    {
      trips,
      carried: [accumulator(g, hidden.dtype, rows), accumulator(g, hidden.dtype, rows)],
      body: ({ iteration, carried: [logpAcc, entAcc] }) => {
        const c = scores(iteration);
        return { carried: [concat([logpAcc, c.logp], 0), concat([entAcc, c.entropy], 0)], scans: [] };
      },
      grad: ([gLogp, gEnt], needs) =>
        chunkedBackward({ h, lmHead, t, temperature, chunk, trips, gLogp, gEnt, needs }),
    },
    'chunked_logprobs',
  );
  return { logProbs: reshape(carried[0], lead), entropy: reshape(carried[1], lead) };
}

function checkOperands(hidden: Value, w: Value, targets: Value, temperature: Value, chunk: number): void {
  if (!Number.isInteger(chunk) || chunk < 1)
    throw new GraphError(`chunkedTokenLogProbs: chunk must be a positive integer (got ${chunk})`);
  checkHeadOperands('chunkedTokenLogProbs', hidden, w, targets, temperature);
}

/**
 * What every fused log-prob head needs of its operands (this op and vocabChunkedTokenLogProbs): float
 * hidden [..., H], lmHead [V, H] and a scalar temperature of the same dtype, int64 targets shaped [...].
 */
export function checkHeadOperands(
  op: string,
  hidden: Value,
  w: Value,
  targets: Value,
  temperature: Value,
): void {
  const fail = (why: string) => {
    throw new GraphError(`${op}: ${why}`);
  };
  if (hidden.dtype !== 'float32' && hidden.dtype !== 'float64')
    fail(`hidden must be float32 or float64 (got ${hidden.dtype})`);
  if (w.dtype !== hidden.dtype || temperature.dtype !== hidden.dtype)
    fail(
      `lmHead (${w.dtype}) and temperature (${temperature.dtype}) must have hidden's dtype ${hidden.dtype}`,
    );
  if (hidden.rank < 2 || w.rank !== 2 || w.shape[1] !== hidden.shape[hidden.rank - 1])
    fail(
      `hidden ${formatShape(hidden.shape)} and lmHead ${formatShape(w.shape)} must be [..., H] and [V, H]`,
    );
  if (temperature.rank !== 0) fail(`temperature must be a scalar (got ${formatShape(temperature.shape)})`);
  if (targets.dtype !== 'int64' || formatShape(targets.shape) !== formatShape(hidden.shape.slice(0, -1)))
    fail(`targets ${targets.dtype}${formatShape(targets.shape)} must be int64 shaped like hidden without H`);
}

/** ⌈rows / chunk⌉ as an int64 scalar (integer Div truncates; rows ≥ 0). */
function chunkCount(g: Graph, rows: Dim, chunk: number): Value {
  const n = dimValue(g, rows);
  return squeeze(div(add(n, g.ints([chunk - 1])), g.ints([chunk])), [0]);
}

/** An empty [0] tensor that a Loop grows to `rows` entries, one chunk per iteration. */
function accumulator(g: Graph, dtype: Value['dtype'], rows: Dim) {
  return { initial: zeros(g, dtype, [0]), bodyShape: [g.freshName('chunk_done')], finalShape: [rows] };
}

/** Rows [i·chunk, i·chunk + chunk) of x along axis 0, clamped to its end (ONNX Slice clamps). */
export function chunkRows(x: Value, iteration: Value, chunk: number, size: Dim): Value {
  const g = iteration.graph;
  const start = unsqueeze(mul(iteration, g.scalar(chunk, 'int64')), [0]);
  const end = add(start, g.ints([chunk]));
  return apply('Slice', [x, start, end, g.ints([0])], {
    _begin: shapeAttr(['chunk_start']),
    _size: shapeAttr([size]),
    _axes: attr.ints([0]),
  });
}

interface ChunkScores {
  h: Value;
  t: Value;
  /** log softmax(z) [k, V] and its exp. */
  lp: Value;
  p: Value;
  logp: Value;
  entropy: Value;
}

interface ChunkLogits {
  h: Value;
  t: Value;
  /** z = h·Wᵀ/T [k, V]. */
  z: Value;
}

/**
 * One chunk's logits, the temperature dividing the [k, H] rows rather than the [k, V] product: one pass
 * over a [k, V] block fewer (a Div of 268 MB per 441 tokens of Qwen2.5's vocabulary), the same value up to
 * rounding, and the same bits at T = 1.
 */
function chunkLogits(h: Value, w: Value, t: Value, temperature: Value, chunk: number) {
  return (iteration: Value): ChunkLogits => {
    const k = iteration.graph.freshName('chunk_rows');
    const hc = chunkRows(h, iteration, chunk, k);
    const tc = unsqueeze(chunkRows(t, iteration, chunk, k), [1]);
    return { h: hc, t: tc, z: gemm(div(hc, temperature), w, { transB: true }) };
  };
}

/** Σ_v a[r, v]·b[r, v] per row as a batched dot product: no [k, V] product is written. */
export function rowDot(a: Value, b: Value): Value {
  return squeeze(matmul(unsqueeze(a, [1]), unsqueeze(b, [2])), [1, 2]);
}

/** The forward of one chunk, built in the body of whichever Loop asks (forward, or backward's recompute). */
function chunkScores(h: Value, w: Value, t: Value, temperature: Value, chunk: number) {
  const logits = chunkLogits(h, w, t, temperature, chunk);
  return (iteration: Value): ChunkScores => {
    const { h: hc, t: tc, z } = logits(iteration);
    const lp = logSoftmax(z, -1);
    const p = exp(lp);
    return {
      h: hc,
      t: tc,
      lp,
      p,
      logp: squeeze(gatherElements(lp, tc, 1), [1]),
      entropy: neg(rowDot(p, lp)),
    };
  };
}

interface BackwardArgs {
  h: Value;
  lmHead: Value;
  t: Value;
  temperature: Value;
  chunk: number;
  trips: Value;
  gLogp: Value | undefined;
  gEnt: Value | undefined;
  needs: (v: Value) => boolean;
}

/** The gradient Loop: d hidden and/or d lmHead, only the terms whose upstream gradient exists. */
function chunkedBackward(a: BackwardArgs): Map<Value, Value> {
  const g = a.h.graph;
  const out = new Map<Value, Value>();
  const wantH = a.needs(a.h);
  const wantW = a.needs(a.lmHead);
  if ((!a.gLogp && !a.gEnt) || (!wantH && !wantW)) return out;
  const [rows, width] = a.h.shape;
  const carried = [];
  if (wantH) carried.push(matrixAccumulator(g, a.h.dtype, rows, width));
  // The d lmHead sum starts as a [1, 1] zero that the first Gemm broadcasts as its C (the same +0 in every
  // entry as a [V, H] of zeros): a [V, H] start would be held as the Loop's input for its whole run, a
  // third [V, H] beside the sum carried in and the one coming out (docs/model.md, "Memory estimate").
  if (wantW)
    carried.push({
      initial: zeros(g, a.lmHead.dtype, [1, 1]),
      bodyShape: [g.freshName('lm_grad_rows'), g.freshName('lm_grad_cols')],
      finalShape: a.lmHead.shape,
    });
  const result = loop(
    g,
    {
      trips: a.trips,
      carried,
      body: ({ iteration, carried: acc }) => {
        const { h: hc, dz } = chunkLogitsGrad(a, iteration);
        const next: Value[] = [];
        let i = 0;
        if (wantH) next.push(concat([acc[i++], matmul(dz, a.lmHead)], 0));
        if (wantW) next.push(gemm(dz, hc, { transA: true, c: acc[i++], beta: 1 }));
        return { carried: next, scans: [] };
      },
    },
    'chunked_logprobs_grad',
  );
  let i = 0;
  if (wantH) out.set(a.h, result.carried[i++]);
  if (wantW) out.set(a.lmHead, result.carried[i++]);
  return out;
}

/**
 * d z of one chunk (divided by T: d(h·Wᵀ)), its logits recomputed. Without an entropy gradient only p is
 * needed, one Softmax pass instead of LogSoftmax and Exp: dz = gl·(onehot − p).
 */
function chunkLogitsGrad(a: BackwardArgs, iteration: Value): { h: Value; dz: Value } {
  const slice = (v: Value, k: Value['shape'][number]) => unsqueeze(chunkRows(v, iteration, a.chunk, k), [1]);
  if (!a.gEnt) {
    const { h, t, z } = chunkLogits(a.h, a.lmHead, a.t, a.temperature, a.chunk)(iteration);
    const gl = div(slice(a.gLogp!, h.shape[0]), a.temperature);
    return { h, dz: scatterElementsAdd(mul(softmax(z, -1), neg(gl)), t, gl, 1) };
  }
  const c = chunkScores(a.h, a.lmHead, a.t, a.temperature, a.chunk)(iteration);
  const k = c.h.shape[0];
  const gl = a.gLogp && div(slice(a.gLogp, k), a.temperature);
  const ge = div(slice(a.gEnt, k), a.temperature);
  // Per-row coefficients [k, 1] first, so each [k, V] pass is one op: dz = p·(coef − ge·lp) + gl·onehot.
  const entTerm = neg(mul(ge, unsqueeze(c.entropy, [1])));
  const coef = gl ? add(neg(gl), entTerm) : entTerm;
  const dz = mul(c.p, sub(coef, mul(ge, c.lp)));
  return { h: c.h, dz: gl ? scatterElementsAdd(dz, c.t, gl, 1) : dz };
}

function matrixAccumulator(g: Graph, dtype: Value['dtype'], rows: Dim, width: Dim) {
  return {
    initial: zeros(g, dtype, [0, width]),
    bodyShape: [g.freshName('chunk_done'), width],
    finalShape: [rows, width],
  };
}
