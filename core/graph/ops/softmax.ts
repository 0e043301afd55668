/** Softmax and LogSoftmax along one axis, with their gradients. */
import type { Value } from '../graph.ts';
import { defineOp } from './registry.ts';
import type { InputGrad } from './registry.ts';
import { apply, attr, intAttr, normalizeAxis, requireDtype, sameType } from './util.ts';
import { exp, mul, neg, sub } from './elementwise.ts';
import { reduceSum } from './reduce.ts';
import { scatterElementsAdd } from './gather.ts';

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

/**
 * When `g` is a GatherElements' gradient along `axis` — updates u scattered into zeros, one per row — its
 * indices and updates: then Σ g over the axis is u itself.
 */
function pickedRows(g: Value, axis: number): { idx: Value; updates: Value } | undefined {
  const scatter = g.producer;
  if (scatter?.op !== 'ScatterElements') return undefined;
  const { reduction } = scatter.attrs;
  if (reduction?.kind !== 'string' || reduction.value !== 'add' || intAttr(scatter.attrs, 'axis') !== axis)
    return undefined;
  const [data, idx, updates] = scatter.inputs;
  const fill = data.producer?.attrs.value;
  const zeros = data.producer?.op === 'ConstantOfShape' && fill?.kind === 'tensor' && fill.value === 0;
  return zeros && idx.shape[axis] === 1 ? { idx, updates } : undefined;
}

defineOp({
  op: 'LogSoftmax',
  infer,
  // dL/dx = g − softmax(x) ⊙ Σ g. For a gathered log-prob (g one-hot, updates u) that is u scattered onto
  // softmax(x) ⊙ (−u): the same numbers, without the zeros, the one-hot tensor, its sum and the
  // subtraction — four passes over [tokens, vocab] a policy step would otherwise make.
  grad: ({ outputs: [y], attrs, gOut: [g] }): InputGrad[] => {
    if (!g) return [undefined];
    const axis = normalizeAxis(intAttr(attrs, 'axis'), y.rank);
    const picked = pickedRows(g, axis);
    if (picked)
      return [scatterElementsAdd(mul(exp(y), neg(picked.updates)), picked.idx, picked.updates, axis)];
    return [sub(g, mul(exp(y), reduceSum(g, [axis], true)))];
  },
});

export const softmax = (x: Value, axis = -1): Value => apply('Softmax', [x], { axis: attr.int(axis) });
export const logSoftmax = (x: Value, axis = -1): Value => apply('LogSoftmax', [x], { axis: attr.int(axis) });
