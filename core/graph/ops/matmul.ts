/** Batched matrix multiply (numpy matmul semantics over rank ≥ 2) and its gradient; Gemm. */
import type { Value } from '../graph.ts';
import { broadcastShapes, dimEqual, dimProduct, formatShape, isSymbol } from '../dim.ts';
import type { Dim } from '../dim.ts';
import { defineOp } from './registry.ts';
import type { InputGrad } from './registry.ts';
import { apply, attr, intAttr, requireDtype } from './util.ts';
import { sumToShape } from './reduce.ts';
import { reshape, transposeLast2 } from './shape.ts';

defineOp({
  op: 'MatMul',
  infer: ([a, b]) => {
    if (a.dtype !== b.dtype) throw new Error(`operand dtypes differ: ${a.dtype} vs ${b.dtype}`);
    requireDtype(a, ['float32', 'float64', 'float16'], 'operands');
    if (a.rank < 2 || b.rank < 2) throw new Error('operands must have rank ≥ 2');
    const [m, k] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (!dimEqual(k, k2)) throw new Error(`inner dimensions differ: ${k} vs ${k2}`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [{ dtype: a.dtype, shape: [...batch, m, n] }];
  },
  grad: ({ inputs: [a, b], gOut: [g] }): InputGrad[] => {
    if (!g) return [undefined, undefined];
    const ga = sumToShape(matmul(g, transposeLast2(b)), a.shape);
    let gb: Value;
    if (b.rank === 2 && a.rank > 2) {
      // A weight shared across the batch: one [K,N]×[N,M] product instead of a batch of them and a sum.
      const [k, n] = b.shape;
      const rows = dimProduct(a.shape.slice(0, -1));
      gb = matmul(transposeLast2(reshape(a, [rows, k])), reshape(g, [rows, n]));
    } else gb = sumToShape(matmul(transposeLast2(a), g), b.shape);
    return [ga, gb];
  },
});

export const matmul = (a: Value, b: Value): Value => apply('MatMul', [a, b]);

defineOp({
  op: 'Gemm',
  infer: ([a, b, c], attrs) => {
    if (a.dtype !== b.dtype || (c && c.dtype !== a.dtype))
      throw new Error(
        `operand dtypes differ: ${[a, b, c]
          .filter(Boolean)
          .map((v) => v!.dtype)
          .join(' vs ')}`,
      );
    requireDtype(a, ['float32', 'float64'], 'operands');
    if (a.rank !== 2 || b.rank !== 2) throw new Error('operands must be matrices');
    const [m, k] = intAttr(attrs, 'transA', 0) ? [a.shape[1], a.shape[0]] : a.shape;
    const [k2, n] = intAttr(attrs, 'transB', 0) ? [b.shape[1], b.shape[0]] : b.shape;
    if (!dimEqual(k, k2)) throw new Error(`inner dimensions differ: ${k} vs ${k2}`);
    // C broadcasts to [M, N] one way (ONNX Gemm); a symbolic dim of C is left to onnxruntime to check
    // (a Loop-carried sum that starts as [1, 1] and is [M, N] from its first iteration on).
    const fits = (d: Dim, want: Dim) =>
      dimEqual(d, want) || d === 1 || (typeof d === 'string' && isSymbol(d));
    if (c && !(c.rank === 2 && fits(c.shape[0], m) && fits(c.shape[1], n)))
      throw new Error(`C is ${formatShape(c.shape)}, expected [${m},${n}] or one that broadcasts to it`);
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
});

/**
 * op(A)·op(B) (+ beta·C), op = transpose where asked (ONNX Gemm, alpha 1). No gradient rule: it serves
 * hand-written backward passes (chunkedTokenLogProbs), where reading a [V, H] weight transposed without
 * materialising the transpose, and accumulating into C in the same kernel, is the point.
 */
export function gemm(
  a: Value,
  b: Value,
  opts: { transA?: boolean; transB?: boolean; c?: Value; beta?: number } = {},
): Value {
  return apply('Gemm', opts.c ? [a, b, opts.c] : [a, b], {
    transA: attr.int(opts.transA ? 1 : 0),
    transB: attr.int(opts.transB ? 1 : 0),
    beta: attr.float(opts.beta ?? 1),
  });
}
