/** Selection and masking ops: Where, Clip, Trilu. */
import type { Value } from '../graph.ts';
import { broadcastShapes } from '../dim.ts';
import { defineOp, NOT_DIFFERENTIABLE } from './registry.ts';
import type { InputGrad } from './registry.ts';
import { apply, attr, requireDtype, sameType, toValues } from './util.ts';
import type { Operand } from './util.ts';
import { sumToShape } from './reduce.ts';
import { and, cast, greaterOrEqual, lessOrEqual, mul } from './elementwise.ts';

defineOp({
  op: 'Where',
  infer: ([c, x, y]) => {
    if (c.dtype !== 'bool') throw new Error(`condition must be bool (got ${c.dtype})`);
    if (x.dtype !== y.dtype) throw new Error(`branch dtypes differ: ${x.dtype} vs ${y.dtype}`);
    return [{ dtype: x.dtype, shape: broadcastShapes(broadcastShapes(c.shape, x.shape), y.shape) }];
  },
  grad: ({ inputs: [c, x, y], gOut: [g] }): InputGrad[] => {
    if (!g) return [undefined, undefined, undefined];
    const zero = g.graph.scalar(0, g.dtype);
    return [undefined, sumToShape(where(c, g, zero), x.shape), sumToShape(where(c, zero, g), y.shape)];
  },
});

defineOp({
  op: 'Clip',
  infer: ([x, lo, hi]) => {
    requireDtype(x, ['float32', 'float64'], 'input');
    for (const b of [lo, hi]) {
      if (b.rank !== 0) throw new Error('clip bounds must be scalars');
      if (b.dtype !== x.dtype) throw new Error(`clip bound dtype ${b.dtype} differs from input ${x.dtype}`);
    }
    return [sameType(x)];
  },
  // Gradient passes where lo ≤ x ≤ hi (torch.clamp's convention at the bounds); bounds are constants.
  grad: ({ inputs: [x, lo, hi], gOut: [g] }): InputGrad[] => {
    if (!g) return [undefined, NOT_DIFFERENTIABLE, NOT_DIFFERENTIABLE];
    const inside = cast(and(greaterOrEqual(x, lo), lessOrEqual(x, hi)), g.dtype);
    return [mul(g, inside), NOT_DIFFERENTIABLE, NOT_DIFFERENTIABLE];
  },
});

defineOp({
  op: 'Trilu',
  infer: ([x]) => {
    if (x.rank < 2) throw new Error('input must have rank ≥ 2');
    return [sameType(x)];
  },
  grad: ({ inputs: [, k], attrs, gOut: [g] }): InputGrad[] => [g && apply('Trilu', [g, k], attrs), undefined],
});

export const where = (c: Value, x: Operand, y: Operand): Value => apply('Where', [c, ...toValues([x, y])]);

export function clip(x: Value, lo: number, hi: number): Value {
  return apply('Clip', [x, x.graph.scalar(lo, x.dtype), x.graph.scalar(hi, x.dtype)]);
}

/**
 * Keeps the lower (upper=false) or upper triangle of the last two axes, offset by diagonal k (a number, or
 * an int64 scalar computed at run time, e.g. the length of a KV cache).
 */
export function trilu(x: Value, k: number | Value, upper: boolean): Value {
  const kv = typeof k === 'number' ? x.graph.constant(new BigInt64Array([BigInt(k)]), [], 'int64') : k;
  if (kv.dtype !== 'int64' || kv.rank !== 0) throw new Error('trilu: k must be an int64 scalar');
  return apply('Trilu', [x, kv], { upper: attr.int(upper ? 1 : 0) });
}
