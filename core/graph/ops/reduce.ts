/** Reductions over static axes, and `sumToShape`, the adjoint of broadcasting. */
import type { TypeInfo, Value } from '../graph.ts';
import type { Dim, Shape } from '../dim.ts';
import { dimEqual, dimProduct, formatShape } from '../dim.ts';
import { defineOp } from './registry.ts';
import type { GradContext, InputGrad } from './registry.ts';
import { apply, attr, dimValue, intAttr, intsAttr, normalizeAxis, requireDtype } from './util.ts';
import { div, mul, cast, equal } from './elementwise.ts';
import { expand, reshape, squeeze } from './shape.ts';

function reducedShape(x: Value, axes: number[], keepdims: boolean): Dim[] {
  const set = new Set(axes.map((a) => normalizeAxis(a, x.rank)));
  if (set.size !== axes.length) throw new Error(`repeated reduction axes ${JSON.stringify(axes)}`);
  const out: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

function reduceInfer([x]: readonly Value[], attrs: GradContext['attrs']): TypeInfo[] {
  requireDtype(x, ['float32', 'float64', 'int64'], 'input');
  return [
    { dtype: x.dtype, shape: reducedShape(x, intsAttr(attrs, '_axes'), intAttr(attrs, 'keepdims') === 1) },
  ];
}

/** The upstream gradient re-inserted along reduced axes and broadcast back to the input's shape. */
function expandBack({ inputs: [x], attrs }: GradContext, g: Value): Value {
  const axes = intsAttr(attrs, '_axes').map((a) => normalizeAxis(a, x.rank));
  const kept = intAttr(attrs, 'keepdims') === 1 ? g : reshape(g, reducedShape(x, axes, true));
  return expand(kept, x.shape);
}

function reducedCount(x: Value, axes: number[]): Value {
  const n = dimProduct(axes.map((a) => x.shape[normalizeAxis(a, x.rank)]));
  if (typeof n === 'number') return x.graph.scalar(n, x.dtype);
  return cast(dimValue(x.graph, n), x.dtype);
}

defineOp({
  op: 'ReduceSum',
  infer: reduceInfer,
  grad: (ctx): InputGrad[] => [ctx.gOut[0] && expandBack(ctx, ctx.gOut[0])],
});
defineOp({
  op: 'ReduceMean',
  infer: reduceInfer,
  grad: (ctx): InputGrad[] => {
    const g = ctx.gOut[0];
    return [g && div(expandBack(ctx, g), reducedCount(ctx.inputs[0], intsAttr(ctx.attrs, '_axes')))];
  },
});
defineOp({
  op: 'ReduceMax',
  infer: reduceInfer,
  // The gradient goes to the maximal elements, shared evenly among ties.
  grad: (ctx): InputGrad[] => {
    const g = ctx.gOut[0];
    if (!g) return [undefined];
    const [x] = ctx.inputs;
    const axes = intsAttr(ctx.attrs, '_axes');
    const keep = intAttr(ctx.attrs, 'keepdims') === 1;
    const maxKept = keep ? ctx.outputs[0] : reshape(ctx.outputs[0], reducedShape(x, axes, true));
    const mask = cast(equal(x, maxKept), x.dtype);
    const ties = reduceSum(mask, axes, true);
    return [mul(expandBack(ctx, g), div(mask, ties))];
  },
});

function reduce(op: string, x: Value, axes: number[], keepdims: boolean): Value {
  const axesAttr = axes.map((a) => normalizeAxis(a, x.rank));
  if (axesAttr.length === 0) return x;
  return apply(op, [x, x.graph.ints(axesAttr)], {
    keepdims: attr.int(keepdims ? 1 : 0),
    _axes: attr.ints(axesAttr),
  });
}

export const reduceSum = (x: Value, axes: number[], keepdims = false): Value =>
  reduce('ReduceSum', x, axes, keepdims);
export const reduceMean = (x: Value, axes: number[], keepdims = false): Value =>
  reduce('ReduceMean', x, axes, keepdims);
export const reduceMax = (x: Value, axes: number[], keepdims = false): Value =>
  reduce('ReduceMax', x, axes, keepdims);

/** Sum over every axis (a scalar). */
export const sumAll = (x: Value): Value => reduceSum(x, [...x.shape.keys()], false);
export const meanAll = (x: Value): Value => reduceMean(x, [...x.shape.keys()], false);

/**
 * The adjoint of broadcasting: sums `g` over the leading axes the target lacks and over the axes where the
 * target has size 1, so the gradient of a broadcast operand has the operand's shape.
 */
export function sumToShape(g: Value, target: Shape): Value {
  const lead = g.rank - target.length;
  if (lead < 0)
    throw new Error(`cannot sum ${formatShape(g.shape)} to the larger shape ${formatShape(target)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead) axes.push(i);
    else if (target[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
    else if (!dimEqual(target[i - lead], g.shape[i]))
      throw new Error(`cannot sum ${formatShape(g.shape)} to ${formatShape(target)}`);
  }
  const summed = reduceSum(g, axes, true);
  return lead > 0 ? squeeze(summed, [...Array(lead).keys()]) : summed;
}
