/**
 * ONNX Loop with a body subgraph (core/graph/ops/loop.ts), run by onnxruntime: a carried value that grows
 * each iteration, scan outputs stacked per iteration, values of the enclosing graph read in the body, a
 * zero-trip loop, and build-time errors that name what is wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executable, Graph, GraphError, op } from '../../../core/graph/index.ts';

/** acc ← concat(acc, last(acc) · scale + w[:, i]); scan: the appended column. */
function runningGraph() {
  const g = new Graph('loopTest');
  const x = g.input('x', 'float32', ['batch', 'len']);
  const w = g.input('w', 'float32', ['batch', 'steps']);
  const scale = g.input('scale', 'float32', []);
  const { carried, scans } = op.loop(g, {
    trips: 'steps',
    carried: [{ initial: x, bodyShape: ['batch', 'n'], finalShape: ['batch', 'len + steps'] }],
    body: ({ iteration, carried: [acc] }) => {
      const last = op.squeeze(op.slice(acc, [-1], [op.SLICE_END], [1]), [1]);
      // `scale` and `w` belong to the enclosing graph: the body captures them.
      const next = op.add(op.mul(last, scale), op.gather(w, iteration, 1));
      return { carried: [op.concat([acc, op.unsqueeze(next, [1])], 1)], scans: [next] };
    },
  });
  g.output(carried[0], 'acc');
  g.output(scans[0], 'appended');
  return g;
}

test('a Loop grows a carried value, stacks scan outputs and reads outer values', async () => {
  const exec = await Executable.compile(runningGraph());
  const out = await exec.run({
    x: { data: new Float32Array([1, 2, 10, 20]), dims: [2, 2] },
    w: { data: new Float32Array([1, 2, 3, 4, 5, 6]), dims: [2, 3] },
    scale: { data: new Float32Array([2]), dims: [] },
  });
  // Row 0: 2 → 2·2+1 = 5 → 2·5+2 = 12 → 2·12+3 = 27; row 1: 20 → 44 → 93 → 192.
  assert.deepEqual(out.acc.dims, [2, 5]);
  assert.deepEqual([...(out.acc.data as Float32Array)], [1, 2, 5, 12, 27, 10, 20, 44, 93, 192]);
  assert.deepEqual(out.appended.dims, [3, 2]);
  assert.deepEqual([...(out.appended.data as Float32Array)], [5, 44, 12, 93, 27, 192]);
});

test('zero trips return the initial carried value', async () => {
  const exec = await Executable.compile(runningGraph());
  const out = await exec.run(
    {
      x: { data: new Float32Array([1, 2, 10, 20]), dims: [2, 2] },
      w: { data: new Float32Array(0), dims: [2, 0] },
      scale: { data: new Float32Array([2]), dims: [] },
    },
    ['acc'],
  );
  assert.deepEqual([...(out.acc.data as Float32Array)], [1, 2, 10, 20]);
});

test('body errors name the problem at build time', () => {
  const g = new Graph('outer');
  const x = g.input('x', 'float32', [2]);
  const other = new Graph('unrelated').input('y', 'float32', [2]);
  assert.throws(
    () =>
      op.loop(g, {
        trips: 3,
        carried: [{ initial: x, bodyShape: [2], finalShape: [2] }],
        body: ({ carried: [v] }) => ({ carried: [op.add(v, other)], scans: [] }),
      }),
    (e: unknown) => e instanceof GraphError && /y belongs to another graph/.test(e.message),
  );
  assert.throws(
    () =>
      op.loop(g, {
        trips: 3,
        carried: [{ initial: x, bodyShape: [2], finalShape: [2] }],
        body: ({ carried: [v] }) => ({ carried: [v, v], scans: [] }),
      }),
    /body returned 2 carried values, expected 1/,
  );
  // Names are unique across the body and the enclosing graph (ONNX forbids shadowing).
  assert.throws(
    () =>
      op.loop(g, {
        trips: 3,
        carried: [{ initial: x, bodyShape: [2], finalShape: [2] }],
        body: ({ graph, carried: [v] }) => {
          graph.input('x', 'float32', [2]);
          return { carried: [v], scans: [] };
        },
      }),
    /duplicate value name "x"/,
  );
});
