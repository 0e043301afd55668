/**
 * Token log-probs and entropies over a large vocabulary in slices of the vocabulary instead of chunks of
 * tokens: every token's logits against `width` words at a time, with a running max, sum of exponentials
 * and exponential-weighted logit sum per token (the online softmax of FlashAttention and of Liger-Kernel's
 * fused linear cross-entropy), so nothing [tokens, vocab] exists and no [vocab, hidden] sum is carried.
 *
 * Why slices of the vocabulary: each block is [tokens, width], small enough that glibc serves it from
 * the heap it already has (below its 32 MiB mmap threshold for a micro-batch's tokens) instead of mapping
 * fresh pages the kernel must zero, and the d lmHead of each slice is a scan output — written once, not
 * re-made per chunk as a token-chunked Loop's carried [V, H] sum is (docs/benchmarks.md, "Where the 0.5B
 * step's time goes"). The price is one forward pass's bookkeeping per slice and a `width` that divides V.
 *
 * With z = (h/T)·Wᵀ, lse = log Σ exp z, lp = z − lse, p = exp lp, H = −Σ p·lp and upstream gradients gl
 * (of lp[target]) and ge (of H):  dz = p·(−gl − ge·(lp + H)) + gl·onehot; d(h/T) = dz·W, dW = dzᵀ·(h/T).
 */
import type { Dim } from '../dim.ts';
import { dimProduct } from '../dim.ts';
import { GraphError } from '../graph.ts';
import type { Value } from '../graph.ts';
import { add, and, div, exp, greaterOrEqual, less, log, maximum, mul, neg, sub } from './elementwise.ts';
import { checkHeadOperands, chunkRows, rowDot } from './chunkedLogProbs.ts';
import { gatherElements, scatterElementsAdd } from './gather.ts';
import { loop } from './loop.ts';
import { gemm } from './matmul.ts';
import { reduceMax, reduceSum } from './reduce.ts';
import { where } from './select.ts';
import { constantOfShape, reshape, SLICE_END, unsqueeze, zeros } from './shape.ts';
import { apply, attr, shapeAttr } from './util.ts';

export interface VocabChunkedTokenLogProbs {
  /** log softmax(h·Wᵀ/T)[target], shaped like `targets`. */
  logProbs: Value;
  /** −Σ p·log p of the same distribution, shaped like `targets`. */
  entropy: Value;
}

/**
 * `hidden` [..., H], `lmHead` [V, H] with a static V that `width` divides, `targets` [...] int64 (same
 * leading shape), `temperature` a scalar of hidden's dtype.
 */
export function vocabChunkedTokenLogProbs(
  hidden: Value,
  lmHead: Value,
  targets: Value,
  temperature: Value,
  width: number,
): VocabChunkedTokenLogProbs {
  const g = hidden.graph;
  const vocab = checkOperands(hidden, lmHead, targets, temperature, width);
  const lead = hidden.shape.slice(0, -1);
  const rows = dimProduct(lead);
  const hs = div(reshape(hidden, [rows, hidden.shape[hidden.rank - 1]]), temperature);
  const t = reshape(targets, [rows, 1]);
  const column = (v: number) => ({
    initial: constantOfShape(g, hidden.dtype, [rows, 1], v),
    bodyShape: [g.freshName('rows'), 1],
    finalShape: [rows, 1],
  });
  const slices: SliceArgs = { hs, w: lmHead, t, width };
  // Carried per token: the running max m, Σ exp(z − m), Σ exp(z − m)·z, and the target's logit.
  const { carried } = loop(
    g,
    {
      trips: vocab / width,
      carried: [column(-Infinity), column(0), column(0), column(0)],
      body: ({ iteration, carried }) => {
        // A Loop body's inputs cannot name the enclosing graph's dims: restate them as the tokens' count.
        const [m, s, a, zt] = carried.map((c) => restate(c, rows));
        const { z, target } = sliceLogits(slices, iteration);
        const mNew = maximum(m, reduceMax(z, [1], true));
        const e = exp(sub(z, mNew));
        const scale = exp(sub(m, mNew));
        return {
          carried: [
            mNew,
            add(mul(s, scale), reduceSum(e, [1], true)),
            add(mul(a, scale), unsqueeze(rowDot(e, z), [1])),
            add(zt, target.logit),
          ],
          scans: [],
        };
      },
      // The outputs below are the only readers of the carried finals, so gl is zt's gradient and ge is
      // −s times a's; the gradients of m and s (which cancel in lse) are not needed.
      grad: ([, , gA, gZt], needs) =>
        vocabChunkedBackward({
          ...slices,
          rows,
          trips: vocab / width,
          lse,
          entropy,
          gl: gZt,
          ge: gA && neg(mul(gA, sumS)),
          needs,
        }),
    },
    'vocab_chunked_logprobs',
  );
  const [m, sumS, sumA, zt] = carried;
  const lse = add(m, log(sumS));
  const entropy = sub(lse, div(sumA, sumS));
  return {
    logProbs: reshape(sub(zt, lse), lead),
    entropy: reshape(entropy, lead),
  };
}

function checkOperands(hidden: Value, w: Value, targets: Value, temperature: Value, width: number): number {
  const fail = (why: string): never => {
    throw new GraphError(`vocabChunkedTokenLogProbs: ${why}`);
  };
  checkHeadOperands('vocabChunkedTokenLogProbs', hidden, w, targets, temperature);
  const vocab = w.shape[0];
  if (typeof vocab !== 'number') return fail(`lmHead's vocabulary ${String(vocab)} must be static`);
  if (!Number.isInteger(width) || width < 1 || vocab % width !== 0)
    fail(`width ${width} must be a positive integer that divides the vocabulary ${vocab}`);
  return vocab;
}

/**
 * A Loop body's carried input (whose first dim is the body's own symbol: a body's inputs cannot name the
 * enclosing graph's dims) declared as `rows` of the enclosing graph: a Slice of all of its rows, whose
 * declared size the shape inference takes as given, where a Reshape would insist the two symbols differ.
 */
function restate(carried: Value, rows: Dim): Value {
  const g = carried.graph;
  return apply('Slice', [carried, g.ints([0]), g.ints([SLICE_END]), g.ints([0])], {
    _begin: shapeAttr([0]),
    _size: shapeAttr([rows]),
    _axes: attr.ints([0]),
  });
}

interface SliceArgs {
  /** hidden / T, [rows, H]. */
  hs: Value;
  w: Value;
  /** targets, [rows, 1] int64. */
  t: Value;
  width: number;
}

/**
 * Where each token's target falls in this slice: its column (clamped to 0 when outside, so gathers and
 * scatters stay in bounds) and whether it is inside.
 */
function targetInSlice(t: Value, iteration: Value, width: number) {
  const g = iteration.graph;
  const local = sub(t, mul(iteration, g.scalar(width, 'int64')));
  const inside = and(greaterOrEqual(local, g.scalar(0, 'int64')), less(local, g.scalar(width, 'int64')));
  return { inside, column: where(inside, local, g.scalar(0, 'int64')) };
}

/** One slice's logits z = (h/T)·W_sliceᵀ [rows, width], and the target's logit where it falls here (else 0). */
function sliceLogits(a: SliceArgs, iteration: Value) {
  const ws = chunkRows(a.w, iteration, a.width, a.width);
  const z = gemm(a.hs, ws, { transB: true });
  const { inside, column } = targetInSlice(a.t, iteration, a.width);
  const zero = iteration.graph.scalar(0, z.dtype);
  return { ws, z, target: { inside, column, logit: where(inside, gatherElements(z, column, 1), zero) } };
}

interface BackwardArgs extends SliceArgs {
  rows: Dim;
  trips: number;
  /** [rows, 1] */
  lse: Value;
  entropy: Value;
  /** Upstream gradients of the target's log-prob and of the entropy, [rows, 1] where they exist. */
  gl: Value | undefined;
  ge: Value | undefined;
  needs: (v: Value) => boolean;
}

/** The per-row part of dz, the same for every slice, so it is made once outside the Loop: −gl − ge·H. */
function rowCoefficient(a: BackwardArgs): Value {
  const entTerm = a.ge && neg(mul(a.ge, a.entropy));
  return a.gl && entTerm ? sub(entTerm, a.gl) : (entTerm ?? neg(a.gl!));
}

/**
 * The gradient Loop over the same slices: d(h/T) as a carried [rows, H] sum (Gemm adds in place of a
 * separate Add), d lmHead as one [width, H] scan output per slice, stacked into [V, H] once.
 */
function vocabChunkedBackward(a: BackwardArgs): Map<Value, Value> {
  const g = a.hs.graph;
  const out = new Map<Value, Value>();
  const wantH = a.needs(a.hs);
  const wantW = a.needs(a.w);
  if ((!a.gl && !a.ge) || (!wantH && !wantW)) return out;
  const size = a.hs.shape[1];
  const coef = rowCoefficient(a);
  const result = loop(
    g,
    {
      trips: a.trips,
      carried: wantH
        ? [
            {
              initial: zeros(g, a.hs.dtype, [a.rows, size]),
              bodyShape: [g.freshName('rows'), size],
              finalShape: [a.rows, size],
            },
          ]
        : [],
      body: ({ iteration, carried }) => {
        const { ws, dz } = sliceLogitsGrad(a, coef, iteration);
        return {
          carried: wantH ? [gemm(dz, ws, { c: restate(carried[0], a.rows), beta: 1 })] : [],
          scans: wantW ? [gemm(dz, a.hs, { transA: true })] : [],
        };
      },
    },
    'vocab_chunked_logprobs_grad',
  );
  if (wantH) out.set(a.hs, result.carried[0]);
  if (wantW) out.set(a.w, reshape(result.scans[0], a.w.shape));
  return out;
}

/** d z of one slice, its logits recomputed: p·(coef − ge·lp) + gl·onehot. */
function sliceLogitsGrad(a: BackwardArgs, coef: Value, iteration: Value): { ws: Value; dz: Value } {
  const { ws, z, target } = sliceLogits(a, iteration);
  const lp = sub(z, a.lse);
  const p = exp(lp);
  const dz = a.ge ? mul(p, sub(coef, mul(a.ge, lp))) : mul(p, coef);
  if (!a.gl) return { ws, dz };
  const zero = iteration.graph.scalar(0, a.gl.dtype);
  return { ws, dz: scatterElementsAdd(dz, target.column, where(target.inside, a.gl, zero), 1) };
}
