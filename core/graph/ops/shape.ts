/** Ops that move data without computing on it (views, copies, padding) and their gradients. */
import type { DType } from '../dtype.ts';
import type { TypeInfo, Value } from '../graph.ts';
import type { Dim, Shape } from '../dim.ts';
import { broadcastShapes, dim, dimAdd, dimEqual, dimProduct, dimSub, formatShape } from '../dim.ts';
import { defineOp } from './registry.ts';
import type { InputGrad } from './registry.ts';
import {
  apply,
  attr,
  intAttr,
  intsAttr,
  normalizeAxis,
  readShapeAttr,
  shapeAttr,
  shapeTensor,
} from './util.ts';
import { sumToShape } from './reduce.ts';

/** Slice bound meaning "to the end" (INT64_MAX, as ONNX exporters write it). */
export const SLICE_END = Number.MAX_SAFE_INTEGER;

defineOp({
  op: 'Shape',
  infer: ([x], attrs) => {
    const start = intAttr(attrs, 'start', 0);
    const end = intAttr(attrs, 'end', x.rank);
    return [{ dtype: 'int64', shape: [Math.max(0, end - start)] }];
  },
});

defineOp({
  op: 'Reshape',
  infer: ([x, s], attrs) => {
    if (s.dtype !== 'int64') throw new Error('shape input must be int64');
    const shape = readShapeAttr(attrs, '_shape');
    if (!dimEqual(dimProduct(x.shape), dimProduct(shape)))
      throw new Error(
        `cannot reshape ${formatShape(x.shape)} to ${formatShape(shape)}: element counts differ`,
      );
    return [{ dtype: x.dtype, shape }];
  },
  grad: ({ inputs: [x], gOut: [g] }): InputGrad[] => [g && reshape(g, x.shape), undefined],
});

defineOp({
  op: 'Transpose',
  infer: ([x], attrs) => {
    const perm = intsAttr(attrs, 'perm');
    if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i))
      throw new Error(`perm ${JSON.stringify(perm)} is not a permutation of ${x.rank} axes`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
  },
  grad: ({ attrs, gOut: [g] }): InputGrad[] => {
    const perm = intsAttr(attrs, 'perm');
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [g && transpose(g, inverse)];
  },
});

function unsqueezedShape(x: Value, axes: number[]): Dim[] {
  const rank = x.rank + axes.length;
  const set = new Set(axes.map((a) => normalizeAxis(a, rank)));
  if (set.size !== axes.length) throw new Error(`repeated axes ${JSON.stringify(axes)}`);
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : x.shape[j++]);
  return out;
}

defineOp({
  op: 'Unsqueeze',
  infer: ([x], attrs) => [{ dtype: x.dtype, shape: unsqueezedShape(x, intsAttr(attrs, '_axes')) }],
  grad: ({ inputs: [x], gOut: [g] }): InputGrad[] => [g && reshape(g, x.shape), undefined],
});

defineOp({
  op: 'Squeeze',
  infer: ([x], attrs) => {
    const axes = intsAttr(attrs, '_axes').map((a) => normalizeAxis(a, x.rank));
    for (const a of axes)
      if (x.shape[a] !== 1) throw new Error(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
  },
  grad: ({ inputs: [x], gOut: [g] }): InputGrad[] => [g && reshape(g, x.shape), undefined],
});

defineOp({
  op: 'Concat',
  infer: (inputs, attrs) => {
    const first = inputs[0];
    const axis = normalizeAxis(intAttr(attrs, 'axis'), first.rank);
    let size: Dim = 0;
    for (const [i, v] of inputs.entries()) {
      if (v.dtype !== first.dtype)
        throw new Error(`input ${i} has dtype ${v.dtype}, expected ${first.dtype}`);
      if (v.rank !== first.rank) throw new Error(`input ${i} has rank ${v.rank}, expected ${first.rank}`);
      v.shape.forEach((d, k) => {
        if (k !== axis && !dimEqual(d, first.shape[k]))
          throw new Error(`input ${i} has size ${d} on axis ${k}, expected ${first.shape[k]}`);
      });
      size = dimAdd(size, v.shape[axis]);
    }
    const shape = [...first.shape];
    shape[axis] = size;
    return [{ dtype: first.dtype, shape }];
  },
  grad: ({ inputs, attrs, gOut: [g] }): InputGrad[] => {
    if (!g) return inputs.map(() => undefined);
    const axis = normalizeAxis(intAttr(attrs, 'axis'), g.rank);
    return split(
      g,
      axis,
      inputs.map((v) => v.shape[axis]),
    );
  },
});

defineOp({
  op: 'Split',
  infer: ([x, sizes], attrs) => {
    if (sizes.dtype !== 'int64') throw new Error('split sizes must be int64');
    const axis = normalizeAxis(intAttr(attrs, 'axis'), x.rank);
    const parts = readShapeAttr(attrs, '_sizes');
    if (
      !dimEqual(
        parts.reduce<Dim>((a, b) => dimAdd(a, b), 0),
        x.shape[axis],
      )
    )
      throw new Error(`split sizes ${formatShape(parts)} do not add up to ${x.shape[axis]}`);
    return parts.map((p) => {
      const shape = [...x.shape];
      shape[axis] = p;
      return { dtype: x.dtype, shape };
    });
  },
  grad: ({ inputs: [x], outputs, attrs, gOut }): InputGrad[] => {
    const axis = normalizeAxis(intAttr(attrs, 'axis'), x.rank);
    const parts = outputs.map((o, i) => gOut[i] ?? zeros(x.graph, o.dtype, o.shape));
    return [concat(parts, axis), undefined];
  },
});

function sliceBounds(d: Dim, start: number, end: number): { begin: Dim; size: Dim } {
  if (typeof d === 'number') {
    const clampIdx = (i: number) => Math.min(Math.max(i < 0 ? i + d : i, 0), d);
    const b = clampIdx(start);
    return { begin: b, size: Math.max(0, clampIdx(end) - b) };
  }
  // Symbolic extent: bounds are taken as in range, which is what the model code guarantees.
  const begin = start < 0 ? dimAdd(d, start) : start;
  const endDim = end >= SLICE_END ? d : end < 0 ? dimAdd(d, end) : end;
  return { begin, size: dimSub(endDim, begin) };
}

/** Slices carry their resolved extent (begin and size per axis) as build-time metadata. */
function sliceMeta(attrs: Parameters<typeof intsAttr>[0]) {
  return {
    begin: readShapeAttr(attrs, '_begin'),
    size: readShapeAttr(attrs, '_size'),
    axes: intsAttr(attrs, '_axes'),
  };
}

defineOp({
  op: 'Slice',
  infer: ([x], attrs) => {
    const { size, axes } = sliceMeta(attrs);
    const shape = [...x.shape];
    axes.forEach((a, i) => (shape[normalizeAxis(a, x.rank)] = size[i]));
    return [{ dtype: x.dtype, shape }];
  },
  // The adjoint of a slice pads the gradient with zeros back to the input's extent.
  grad: ({ inputs: [x], attrs, gOut: [g] }): InputGrad[] => {
    if (!g) return [undefined];
    const { begin, size, axes } = sliceMeta(attrs);
    const before: Dim[] = x.shape.map(() => 0);
    const after: Dim[] = x.shape.map(() => 0);
    axes.forEach((a, i) => {
      const ax = normalizeAxis(a, x.rank);
      before[ax] = begin[i];
      after[ax] = dimSub(dimSub(x.shape[ax], begin[i]), size[i]);
    });
    return [pad(g, before, after)];
  },
});

defineOp({
  op: 'Pad',
  infer: ([x], attrs) => {
    const before = readShapeAttr(attrs, '_before');
    const after = readShapeAttr(attrs, '_after');
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => dimAdd(dimAdd(d, before[i]), after[i])) }];
  },
  grad: ({ inputs: [x], attrs, gOut: [g] }): InputGrad[] => {
    if (!g) return [undefined];
    const axes = [...x.shape.keys()];
    return [sliceDims(g, readShapeAttr(attrs, '_before'), [...x.shape], axes)];
  },
});

defineOp({
  op: 'Expand',
  infer: ([x, s], attrs) => {
    if (s.dtype !== 'int64') throw new Error('shape input must be int64');
    return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, readShapeAttr(attrs, '_shape')) }];
  },
  grad: ({ inputs: [x], gOut: [g] }): InputGrad[] => [g && sumToShape(g, x.shape), undefined],
});

defineOp({
  op: 'ConstantOfShape',
  infer: (_inputs, attrs) => {
    const v = attrs.value;
    if (!v || v.kind !== 'tensor') throw new Error('ConstantOfShape needs a value');
    return [{ dtype: v.dtype, shape: readShapeAttr(attrs, '_shape') }];
  },
});

// --- builders -------------------------------------------------------------------------------------------
export function reshape(x: Value, shape: Shape): Value {
  const s = shape.map(dim);
  if (s.length === x.rank && s.every((d, i) => dimEqual(d, x.shape[i]))) return x;
  return apply('Reshape', [x, shapeTensor(x.graph, s)], { _shape: shapeAttr(s) });
}

export function transpose(x: Value, perm: number[]): Value {
  if (perm.every((p, i) => p === i)) return x;
  return apply('Transpose', [x], { perm: attr.ints(perm) });
}

/** Swaps the last two axes (a matrix transpose over batch dims). */
export function transposeLast2(x: Value): Value {
  const perm = [...x.shape.keys()];
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
}

export function unsqueeze(x: Value, axes: number[]): Value {
  return apply('Unsqueeze', [x, x.graph.ints(axes)], { _axes: attr.ints(axes) });
}

export function squeeze(x: Value, axes: number[]): Value {
  if (axes.length === 0) return x;
  return apply('Squeeze', [x, x.graph.ints(axes)], { _axes: attr.ints(axes) });
}

export function concat(xs: Value[], axis: number): Value {
  if (xs.length === 1) return xs[0];
  return apply('Concat', xs, { axis: attr.int(axis) });
}

export function split(x: Value, axis: number, sizes: Dim[]): Value[] {
  const ax = normalizeAxis(axis, x.rank);
  return x.graph.node('Split', [x, shapeTensor(x.graph, sizes)], {
    axis: attr.int(ax),
    _sizes: shapeAttr(sizes),
  });
}

/** x[start:end] along each of `axes` (step 1; negative bounds count from the end; SLICE_END = to the end). */
export function slice(x: Value, starts: number[], ends: number[], axes: number[]): Value {
  const g = x.graph;
  const bounds = axes.map((a, i) => sliceBounds(x.shape[normalizeAxis(a, x.rank)], starts[i], ends[i]));
  const int64Ends = ends.map((e) => (e >= SLICE_END ? 2n ** 63n - 1n : e));
  return apply('Slice', [x, g.ints(starts), g.ints(int64Ends), g.ints(axes)], {
    _begin: shapeAttr(bounds.map((b) => b.begin)),
    _size: shapeAttr(bounds.map((b) => b.size)),
    _axes: attr.ints(axes),
  });
}

/** Slice whose bounds may be symbolic: `begin` and `size` per axis, evaluated at run time when needed. */
export function sliceDims(x: Value, begin: Dim[], size: Dim[], axes: number[]): Value {
  const g = x.graph;
  const ends = begin.map((b, i) => dimAdd(b, size[i]));
  return apply('Slice', [x, shapeTensor(g, begin), shapeTensor(g, ends), g.ints(axes)], {
    _begin: shapeAttr(begin),
    _size: shapeAttr(size),
    _axes: attr.ints(axes),
  });
}

export function pad(x: Value, before: Dim[], after: Dim[]): Value {
  return apply('Pad', [x, shapeTensor(x.graph, [...before, ...after])], {
    mode: attr.string('constant'),
    _before: shapeAttr(before),
    _after: shapeAttr(after),
  });
}

export function expand(x: Value, shape: Shape): Value {
  const s = shape.map(dim);
  if (s.length === x.rank && s.every((d, i) => dimEqual(d, x.shape[i]))) return x;
  return apply('Expand', [x, shapeTensor(x.graph, s)], { _shape: shapeAttr(s) });
}

export function zeros(g: Value['graph'], dtype: DType, shape: Shape): Value {
  return constantOfShape(g, dtype, shape, 0);
}

export function zerosLike(x: Value): Value {
  return zeros(x.graph, x.dtype, x.shape);
}

export function constantOfShape(g: Value['graph'], dtype: DType, shape: Shape, value: number): Value {
  const s = shape.map(dim);
  return g.node('ConstantOfShape', [shapeTensor(g, s)], {
    value: { kind: 'tensor', dtype, value },
    _shape: shapeAttr(s),
  })[0];
}

export type { TypeInfo };
