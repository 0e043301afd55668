/** Every differentiable op's gradient against central finite differences on float64 graphs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, definedOps, dimMul, grad, op } from '../../../core/graph/index.ts';
import { liveNodes } from '../../../core/graph/serialize.ts';
import type { GradCheckCase } from './gradcheck.ts';
import { gradCheck, input, int64 } from './gradcheck.ts';

/** The engine's acceptance bound for gradients (issue: relative error ≤ 1e-6). */
const TOLERANCE = 1e-6;

type Build = (g: Graph) => GradCheckCase;

const cases: Record<string, Build> = {
  'Add broadcast [2,3,4]+[3,1]': (g) => {
    const a = input(g, 'a', [2, 3, 4], 1);
    const b = input(g, 'b', [3, 1], 2);
    return { wrt: [a, b], out: op.add(a.value, b.value) };
  },
  'Sub broadcast [4]-[2,1,4]': (g) => {
    const a = input(g, 'a', [4], 3);
    const b = input(g, 'b', [2, 1, 4], 4);
    return { wrt: [a, b], out: op.sub(a.value, b.value) };
  },
  'Mul broadcast [2,3]*[1,3] and scalar': (g) => {
    const a = input(g, 'a', [2, 3], 5);
    const b = input(g, 'b', [1, 3], 6);
    return { wrt: [a, b], out: op.mul(op.mul(a.value, b.value), 0.7) };
  },
  'Div broadcast [3,4]/[4]': (g) => {
    const a = input(g, 'a', [3, 4], 7);
    const b = input(g, 'b', [4], 8, 0.5, 2);
    return { wrt: [a, b], out: op.div(a.value, b.value) };
  },
  'Pow base and exponent': (g) => {
    const a = input(g, 'a', [3, 4], 9, 0.5, 2);
    const b = input(g, 'b', [4], 10, -1.5, 1.5);
    return { wrt: [a, b], out: op.pow(a.value, b.value) };
  },
  'Min / Max broadcast': (g) => {
    const a = input(g, 'a', [2, 5], 11);
    const b = input(g, 'b', [5], 12);
    return {
      wrt: [a, b],
      out: op.add(op.minimum(a.value, b.value), op.mul(op.maximum(a.value, b.value), 2)),
    };
  },
  'Neg Exp Identity': (g) => {
    const a = input(g, 'a', [3, 2], 13);
    return { wrt: [a], out: op.identity(op.exp(op.neg(a.value))) };
  },
  'Log Sqrt Reciprocal': (g) => {
    const a = input(g, 'a', [7], 14, 0.3, 3);
    return { wrt: [a], out: op.add(op.add(op.log(a.value), op.sqrt(a.value)), op.reciprocal(a.value)) };
  },
  'Sigmoid Tanh': (g) => {
    const a = input(g, 'a', [2, 4], 15, -3, 3);
    return { wrt: [a], out: op.mul(op.sigmoid(a.value), op.tanh(a.value)) };
  },
  'Cos Sin': (g) => {
    const a = input(g, 'a', [6], 16, -3, 3);
    return { wrt: [a], out: op.add(op.cos(a.value), op.mul(op.sin(a.value), 2)) };
  },
  'Abs Relu (away from 0)': (g) => {
    const a = input(g, 'a', [8], 17, 0.1, 2);
    const b = input(g, 'b', [8], 18, -2, -0.1);
    return { wrt: [a, b], out: op.add(op.abs(b.value), op.relu(op.sub(a.value, 1.05))) };
  },
  'Softmax axis 1 of 3': (g) => {
    const a = input(g, 'a', [2, 5, 3], 19, -2, 2);
    return { wrt: [a], out: op.softmax(a.value, 1) };
  },
  'LogSoftmax last axis': (g) => {
    const a = input(g, 'a', [3, 6], 20, -2, 2);
    return { wrt: [a], out: op.logSoftmax(a.value, -1) };
  },
  'ReduceSum keepdims / not': (g) => {
    const a = input(g, 'a', [2, 3, 4], 21);
    return { wrt: [a], out: op.mul(op.reduceSum(a.value, [0, 2], true), op.reduceSum(a.value, [1], true)) };
  },
  ReduceMean: (g) => {
    const a = input(g, 'a', [3, 4], 22);
    return {
      wrt: [a],
      out: op.add(op.reduceMean(a.value, [1], false), op.reduceMean(a.value, [0, 1], false)),
    };
  },
  ReduceMax: (g) => {
    const a = input(g, 'a', [3, 5], 23);
    return { wrt: [a], out: op.add(op.reduceMax(a.value, [1], true), op.reduceMax(a.value, [0], true)) };
  },
  'MatMul [2,3,4]x[4,5] (shared weight)': (g) => {
    const a = input(g, 'a', [2, 3, 4], 24);
    const b = input(g, 'b', [4, 5], 25);
    return { wrt: [a, b], out: op.matmul(a.value, b.value) };
  },
  'MatMul batched broadcast [2,1,3,4]x[3,4,2]': (g) => {
    const a = input(g, 'a', [2, 1, 3, 4], 26);
    const b = input(g, 'b', [3, 4, 2], 27);
    return { wrt: [a, b], out: op.matmul(a.value, b.value) };
  },
  'MatMul [4,3]x[2,3,5]': (g) => {
    const a = input(g, 'a', [4, 3], 28);
    const b = input(g, 'b', [2, 3, 5], 29);
    return { wrt: [a, b], out: op.matmul(a.value, b.value) };
  },
  'Gather axis 0 with repeated indices (embedding)': (g) => {
    const a = input(g, 'a', [5, 3], 30);
    const idx = g.constant(int64([1, 4, 1, 0, 1, 2]), [2, 3], 'int64');
    return { wrt: [a], out: op.gather(a.value, idx, 0) };
  },
  'Gather axis 1': (g) => {
    const a = input(g, 'a', [2, 4, 3], 31);
    const idx = g.constant(int64([3, 0, 3]), [3], 'int64');
    return { wrt: [a], out: op.gather(a.value, idx, 1) };
  },
  'GatherElements last axis (token log-probs)': (g) => {
    const a = input(g, 'a', [2, 3, 5], 32);
    const idx = g.constant(int64([4, 0, 2, 1, 1, 3]), [2, 3, 1], 'int64');
    return { wrt: [a], out: op.gatherElements(op.logSoftmax(a.value, -1), idx, -1) };
  },
  'GatherElements of LogSoftmax with a second consumer (log-prob and entropy)': (g) => {
    const a = input(g, 'a', [2, 3, 5], 49);
    const idx = g.constant(int64([1, 2, 0, 4, 3, 3]), [2, 3, 1], 'int64');
    const lp = op.logSoftmax(a.value, -1);
    const entropy = op.neg(op.reduceSum(op.mul(op.exp(lp), lp), [-1], true));
    return { wrt: [a], out: op.add(op.gatherElements(lp, idx, -1), op.mul(entropy, 0.3)) };
  },
  'Reshape Transpose': (g) => {
    const a = input(g, 'a', [2, 3, 4], 33);
    return { wrt: [a], out: op.transpose(op.reshape(a.value, [6, 2, 2]), [2, 0, 1]) };
  },
  'Unsqueeze Squeeze': (g) => {
    const a = input(g, 'a', [3, 1, 2], 34);
    return { wrt: [a], out: op.unsqueeze(op.squeeze(a.value, [1]), [0, 3]) };
  },
  'Concat of three': (g) => {
    const a = input(g, 'a', [2, 1], 35);
    const b = input(g, 'b', [2, 3], 36);
    const c = input(g, 'c', [2, 2], 37);
    return { wrt: [a, b, c], out: op.concat([a.value, b.value, c.value], 1) };
  },
  Split: (g) => {
    const a = input(g, 'a', [5, 2], 38);
    const [p, q] = op.split(a.value, 0, [2, 3]);
    return { wrt: [a], out: op.concat([op.mul(p, 2), q], 0) };
  },
  'Slice negative start, to end, two axes': (g) => {
    const a = input(g, 'a', [4, 6], 39);
    return { wrt: [a], out: op.slice(a.value, [1, -4], [3, op.SLICE_END], [0, 1]) };
  },
  Pad: (g) => {
    const a = input(g, 'a', [2, 3], 40);
    return { wrt: [a], out: op.pad(a.value, [1, 0], [0, 2]) };
  },
  Expand: (g) => {
    const a = input(g, 'a', [3, 1], 41);
    return { wrt: [a], out: op.expand(a.value, [2, 3, 4]) };
  },
  'Where broadcast': (g) => {
    const a = input(g, 'a', [2, 3], 42);
    const b = input(g, 'b', [3], 43);
    const c = g.constant(Uint8Array.from([1, 0, 1, 0, 0, 1]), [2, 3], 'bool');
    return { wrt: [a, b], out: op.where(c, a.value, b.value) };
  },
  'Clip (inside and outside the range)': (g) => {
    const a = input(g, 'a', [10], 44, -2, 2);
    return { wrt: [a], out: op.clip(a.value, -0.77, 0.93) };
  },
  'Trilu lower k=0 and upper k=1': (g) => {
    const a = input(g, 'a', [2, 4, 4], 45);
    return { wrt: [a], out: op.add(op.trilu(a.value, 0, false), op.mul(op.trilu(a.value, 1, true), 3)) };
  },
  'Cast float64 → float64 via bool mask path': (g) => {
    const a = input(g, 'a', [5], 46);
    return { wrt: [a], out: op.mul(a.value, op.cast(op.greater(a.value, 0), 'float64')) };
  },
  'symbolic shapes: reshape b*t, slice and mean over t': (g) => {
    const x = g.input('x', 'float64', ['b', 't', 4]);
    const w = input(g, 'w', [4, 3], 47);
    const flat = op.reshape(x, [dimMul('b', 't'), 4]);
    const y = op.reshape(op.matmul(flat, w.value), ['b', 't', 3]);
    const tail = op.slice(y, [1], [op.SLICE_END], [1]);
    const out = op.concat([op.reduceMean(tail, [1], true), op.reduceSum(y, [1], true)], 1);
    const xData = new Float64Array(2 * 5 * 4).map((_, i) => Math.sin(i));
    return { wrt: [w, { value: x, data: xData, dims: [2, 5, 4] }], out };
  },
};

for (const [name, build] of Object.entries(cases)) {
  test(`gradient of ${name} equals finite differences`, async () => {
    const g = new Graph(name);
    const errors = await gradCheck(g, build(g));
    for (const [i, e] of errors.entries())
      assert.ok(e <= TOLERANCE, `input ${i}: relative error ${e.toExponential(2)}`);
  });
}

test('float32 cast round trip passes gradients back in the input dtype', async () => {
  const g = new Graph('cast');
  const a = input(g, 'a', [4], 48);
  const errors = await gradCheck(g, {
    wrt: [a],
    out: op.cast(op.mul(op.cast(a.value, 'float32'), op.cast(a.value, 'float32')), 'float64'),
  });
  // float32 rounding of the forward pass bounds agreement at ≈1e-7 relative; FD amplifies it by 1/h.
  assert.ok(errors[0] < 1e-2, `relative error ${errors[0]}`);
});

test('every differentiable op the issue lists has a gradient case here', () => {
  const required = [
    'MatMul',
    'Add',
    'Sub',
    'Mul',
    'Div',
    'Neg',
    'Exp',
    'Log',
    'Sqrt',
    'Pow',
    'Reciprocal',
    'Sigmoid',
    'Softmax',
    'LogSoftmax',
    'ReduceSum',
    'ReduceMean',
    'ReduceMax',
    'Gather',
    'GatherElements',
    'Reshape',
    'Transpose',
    'Unsqueeze',
    'Squeeze',
    'Concat',
    'Slice',
    'Expand',
    'Where',
    'Clip',
    'Min',
    'Max',
    'Cast',
    'Equal',
    'Less',
    'Cos',
    'Sin',
    'Trilu',
  ];
  const ops = definedOps();
  for (const r of required) assert.ok(ops.includes(r), `${r} is not defined`);
  const names = Object.keys(cases).join(' ');
  for (const r of required.filter((r) => !['Equal', 'Less', 'Cast'].includes(r)))
    assert.ok(names.includes(r), `no gradient case mentions ${r}`);
});

test('a gathered log-prob differentiates without a one-hot [rows, vocab] tensor', () => {
  const g = new Graph('gathered');
  const logits = g.input('logits', 'float32', [6, 1000]);
  const idx = g.input('idx', 'int64', [6, 1]);
  const picked = op.reduceSum(op.gatherElements(op.logSoftmax(logits, -1), idx, -1), [0, 1], false);
  const [dLogits] = grad(picked, [logits]);
  g.output(dLogits, 'dLogits');
  const ops = liveNodes(g).map((n) => n.op);
  // softmax(x) ⊙ (−u), then u added at the targets: no zeros, no Σ over the vocabulary, no Sub.
  assert.deepEqual(
    ops.filter((o) => ['ConstantOfShape', 'Sub', 'ScatterElements'].includes(o)),
    ['ScatterElements'],
  );
});
