/** Softmax and LogSoftmax along one axis, with their gradients. */
import type { Value } from '../graph.ts';
import { defineOp } from './registry.ts';
import type { InputGrad } from './registry.ts';
import { apply, attr, intAttr, normalizeAxis, requireDtype, sameType } from './util.ts';
import { exp, mul, sub } from './elementwise.ts';
import { reduceSum } from './reduce.ts';

function infer([x]: readonly Value[], attrs: Parameters<typeof intAttr>[0]) {
  requireDtype(x, ['float32', 'float64'], 'input');
  normalizeAxis(intAttr(attrs, 'axis'), x.rank);
  return [sameType(x)];
}

defineOp({
  op: 'Softmax',
  infer,
  // dL/dx = y ⊙ (g − Σ g⊙y)
  grad: ({ outputs: [y], attrs, gOut: [g] }): InputGrad[] => {
    if (!g) return [undefined];
    const axis = normalizeAxis(intAttr(attrs, 'axis'), y.rank);
    return [mul(y, sub(g, reduceSum(mul(g, y), [axis], true)))];
  },
});

defineOp({
  op: 'LogSoftmax',
  infer,
  // dL/dx = g − softmax(x) ⊙ Σ g
  grad: ({ outputs: [y], attrs, gOut: [g] }): InputGrad[] => {
    if (!g) return [undefined];
    const axis = normalizeAxis(intAttr(attrs, 'axis'), y.rank);
    return [sub(g, mul(exp(y), reduceSum(g, [axis], true)))];
  },
});

export const softmax = (x: Value, axis = -1): Value => apply('Softmax', [x], { axis: attr.int(axis) });
export const logSoftmax = (x: Value, axis = -1): Value => apply('LogSoftmax', [x], { axis: attr.int(axis) });
