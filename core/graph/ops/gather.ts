/** Indexing ops (Gather, GatherElements) and the scatter-adds that are their gradients. */
import type { Value } from '../graph.ts';
import { dimEqual } from '../dim.ts';
import { defineOp } from './registry.ts';
import type { InputGrad } from './registry.ts';
import { apply, attr, intAttr, normalizeAxis, sameType } from './util.ts';
import { dimProduct } from '../dim.ts';
import { expand, reshape, transpose, zerosLike } from './shape.ts';

function requireIndices(v: Value): void {
  if (v.dtype !== 'int64') throw new Error(`indices must be int64 (got ${v.dtype})`);
}

defineOp({
  op: 'Gather',
  infer: ([data, idx], attrs) => {
    requireIndices(idx);
    const axis = normalizeAxis(intAttr(attrs, 'axis', 0), data.rank);
    return [
      {
        dtype: data.dtype,
        shape: [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)],
      },
    ];
  },
  // Rows gathered several times receive the sum of their gradients (an embedding's backward pass).
  grad: ({ inputs: [data, idx], attrs, gOut: [g] }): InputGrad[] => {
    if (!g) return [undefined, undefined];
    const axis = normalizeAxis(intAttr(attrs, 'axis', 0), data.rank);
    if (axis === 0) return [scatterRowsAdd(data, idx, g), undefined];
    // Move the gathered axis to the front, scatter there, and move it back.
    const perm = [axis, ...[...data.shape.keys()].filter((i) => i !== axis)];
    const gPerm = [
      ...[...idx.shape.keys()].map((i) => axis + i),
      ...[...Array(axis).keys()],
      ...[...Array(data.rank - axis - 1).keys()].map((i) => axis + idx.rank + i),
    ];
    const scattered = scatterRowsAdd(transpose(data, perm), idx, transpose(g, gPerm));
    return [
      transpose(
        scattered,
        perm.map((_, i) => perm.indexOf(i)),
      ),
      undefined,
    ];
  },
});

defineOp({
  op: 'GatherElements',
  infer: ([data, idx], attrs) => {
    requireIndices(idx);
    normalizeAxis(intAttr(attrs, 'axis', 0), data.rank);
    if (idx.rank !== data.rank)
      throw new Error(`indices rank ${idx.rank} differs from data rank ${data.rank}`);
    return [{ dtype: data.dtype, shape: idx.shape }];
  },
  grad: ({ inputs: [data, idx], attrs, gOut: [g] }): InputGrad[] => {
    if (!g) return [undefined, undefined];
    const axis = normalizeAxis(intAttr(attrs, 'axis', 0), data.rank);
    return [scatterElementsAdd(zerosLike(data), idx, g, axis), undefined];
  },
});

defineOp({
  op: 'ScatterElements',
  infer: ([data, idx, upd]) => {
    requireIndices(idx);
    if (upd.dtype !== data.dtype)
      throw new Error(`updates dtype ${upd.dtype} differs from data ${data.dtype}`);
    if (!idx.shape.every((d, i) => dimEqual(d, upd.shape[i])))
      throw new Error('indices and updates must have the same shape');
    return [sameType(data)];
  },
});

export const gather = (data: Value, idx: Value, axis = 0): Value =>
  apply('Gather', [data, idx], { axis: attr.int(axis) });
export const gatherElements = (data: Value, idx: Value, axis: number): Value =>
  apply('GatherElements', [data, idx], { axis: attr.int(axis) });
export const scatterElementsAdd = (data: Value, idx: Value, upd: Value, axis: number): Value =>
  apply('ScatterElements', [data, idx, upd], { axis: attr.int(axis), reduction: attr.string('add') });

/**
 * zeros(data) with each row `idx[i]` increased by `g[i]`: a Gather's gradient along axis 0. It goes through
 * ScatterElements, whose CPU kernel adds the updates one after another in order, not ScatterND: ORT's
 * ScatterND splits the updates across the intra-op threads, so two tokens with the same id race on one row
 * and the sum's order (its last bits, and sometimes an update) changes from run to run.
 */
export function scatterRowsAdd(data: Value, idx: Value, g: Value): Value {
  const rows = dimProduct(idx.shape);
  const rest = data.shape.slice(1);
  const rowIdx = reshape(idx, [rows, ...rest.map(() => 1)]);
  return scatterElementsAdd(zerosLike(data), expand(rowIdx, [rows, ...rest]), reshape(g, [rows, ...rest]), 0);
}
