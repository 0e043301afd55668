/** Malformed graphs fail at build time with an error that names the node (or input) at fault. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executable, Graph, GraphError, grad, op } from '../../../core/graph/index.ts';

test('shape mismatch in MatMul names the node and both shapes', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float32', [4, 5]);
  assert.throws(
    () => g.scope('layer0', () => op.matmul(a, b)),
    (e: Error) =>
      e instanceof GraphError &&
      /node "layer0\/MatMul_\d+" \(MatMul\): inner dimensions differ: 3 vs 4/.test(e.message),
  );
});

test('broadcasting two different symbolic dims is refused', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', ['batch', 3]);
  const b = g.input('b', 'float32', ['seq', 3]);
  assert.throws(
    () => op.add(a, b),
    /node "Add_\d+" \(Add\): shapes \[batch,3\] and \[seq,3\] do not broadcast/,
  );
});

test('an unknown op is refused with the node name', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', [2]);
  assert.throws(
    () => g.node('FancyAttention', [a]),
    /node "FancyAttention_\d+": unknown op "FancyAttention"/,
  );
});

test('a gradient with respect to an integer input is refused, naming the input', () => {
  const g = new Graph();
  const ids = g.input('token_ids', 'int64', [4]);
  const emb = g.input('emb', 'float32', [10, 2]);
  const loss = op.sumAll(op.gather(emb, ids, 0));
  assert.throws(() => grad(loss, [ids]), /cannot differentiate with respect to token_ids: it is int64/);
});

test('a gradient through a non-differentiable input (Clip bound from a parameter) is refused', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  const y = g.node('Clip', [x, g.scalar(-1, 'float32'), g.scalar(1, 'float32')])[0];
  const loss = op.sumAll(y);
  // The bound is a constant: fine.
  assert.doesNotThrow(() => grad(loss, [x]));
  const hi = g.input('hi', 'float32', []);
  const z = g.node('Clip', [x, g.scalar(-1, 'float32'), hi])[0];
  assert.throws(
    () => grad(op.sumAll(z), [hi]),
    /input 2 \(hi\) of node "Clip_\d+" \(Clip\) is not differentiable/,
  );
});

test('mismatched dtypes, bad axes and bad reshapes are refused', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float64', [2, 3]);
  assert.throws(() => op.mul(a, b), /operand dtypes differ: float32 vs float64/);
  assert.throws(() => op.softmax(a, 2), /axis 2 out of range for rank 2/);
  assert.throws(() => op.reshape(a, [4, 2]), /cannot reshape \[2,3\] to \[4,2\]: element counts differ/);
  assert.throws(
    () => op.concat([a, g.input('c', 'float32', [3, 3])], 1),
    /input 1 has size 3 on axis 0, expected 2/,
  );
});

test('a non-scalar loss is refused', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', [2, 3]);
  assert.throws(() => grad(op.exp(a), [a]), /must be a scalar/);
});

test('feeds are checked against declared inputs before running', async () => {
  const g = new Graph();
  const a = g.input('a', 'float32', ['n', 2]);
  const b = g.input('b', 'float32', ['n', 2]);
  g.output(op.add(a, b), 'y');
  const exec = await Executable.compile(g);
  const two = { data: new Float32Array(4), dims: [2, 2] };
  await assert.rejects(exec.run({ a: two }), /missing feed for input "b"/);
  await assert.rejects(
    exec.run({ a: two, b: { data: new Float64Array(4), dims: [2, 2] } }),
    /feed "b": expected float32, got float64/,
  );
  await assert.rejects(
    exec.run({ a: two, b: { data: new Float32Array(6), dims: [3, 2] } }),
    /dimension 0 \("n"\) is 3, but another input has n=2/,
  );
  const r = await exec.run({ a: { data: new Float32Array([1, 2, 3, 4]), dims: [2, 2] }, b: two });
  assert.deepEqual([...(r.y.data as Float32Array)], [1, 2, 3, 4]);
});

test('the same graph built twice compiles once (session cache keyed by model hash)', async () => {
  const build = () => {
    const g = new Graph('cached');
    const a = g.input('a', 'float32', [2]);
    g.output(op.exp(a), 'y');
    return g;
  };
  const e1 = await Executable.compile(build());
  const e2 = await Executable.compile(build());
  assert.equal(e1.key, e2.key);
});
