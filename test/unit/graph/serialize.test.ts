/** The ONNX model a graph serializes to: what onnxruntime is told beyond the nodes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, dimMul, op } from '../../../core/graph/index.ts';
import { toModelProto } from '../../../core/graph/serialize.ts';

test('intermediates carry their inferred shapes into the model, composite symbolic dims included', () => {
  const g = new Graph('shapes');
  const x = g.input('x', 'float32', ['b', 't', 4]);
  const flat = op.reshape(x, [dimMul('b', 't'), 4]);
  g.output(op.mul(op.exp(flat), 2), 'y');
  const info = new Map(
    (toModelProto(g).graph?.valueInfo ?? []).map((v) => [
      v.name,
      v.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || d.dimValue),
    ]),
  );
  // onnxruntime's own inference would leave the Reshape's first dim unnamed, and its planner then reuses no
  // buffer between shapes it cannot prove equal.
  assert.deepEqual(info.get(flat.name), ['b*t', 4]);
  assert.ok(![...info.keys()].includes('y'), 'graph outputs are declared as outputs, not again');
});
