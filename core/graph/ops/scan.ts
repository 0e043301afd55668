/**
 * Running and arg reductions along one axis: CumSum and ArgMax. Neither has a gradient here: they serve
 * sampling inside a graph (a token index is not differentiable), not training.
 */
import type { Value } from '../graph.ts';
import { defineOp } from './registry.ts';
import { apply, attr, intAttr, normalizeAxis, requireDtype, sameType } from './util.ts';

defineOp({
  op: 'CumSum',
  infer: ([x, axis]) => {
    requireDtype(x, ['float32', 'float64', 'int64'], 'input');
    if (axis.dtype !== 'int64' || axis.rank !== 0) throw new Error('axis must be an int64 scalar');
    return [sameType(x)];
  },
});

defineOp({
  op: 'ArgMax',
  infer: ([x], attrs) => {
    requireDtype(x, ['float32', 'float64', 'int64'], 'input');
    const axis = normalizeAxis(intAttr(attrs, 'axis'), x.rank);
    const keep = intAttr(attrs, 'keepdims') === 1;
    return [{ dtype: 'int64', shape: x.shape.flatMap((d, i) => (i !== axis ? [d] : keep ? [1] : [])) }];
  },
});

/** Inclusive running sum along `axis` (ONNX CumSum, exclusive = reverse = 0). */
export function cumSum(x: Value, axis: number): Value {
  return apply('CumSum', [x, x.graph.scalar(normalizeAxis(axis, x.rank), 'int64')]);
}

/** Index of the first maximum along `axis` (ONNX ArgMax, select_last_index = 0). */
export function argMax(x: Value, axis: number, keepdims = false): Value {
  return apply('ArgMax', [x], {
    axis: attr.int(normalizeAxis(axis, x.rank)),
    keepdims: attr.int(keepdims ? 1 : 0),
  });
}
