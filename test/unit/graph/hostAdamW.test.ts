/**
 * The trainer's optimizer path: AdamW on the host, in place, gives the graph's AdamW (adamw.ts, itself
 * checked against torch.optim.AdamW) bit for bit when the norm plays no part, and to float32 rounding when
 * clipping scales by the norm; an accumulating gradient step writes the running sum over its own input and
 * equals the separate gradients added.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Executable,
  Graph,
  adamwInPlace,
  buildApplyGrads,
  buildGradStep,
  initOptimizerState,
  op,
  runApplyGrads,
  runGradStep,
  runGradStepInto,
  zeroGrads,
} from '../../../core/graph/index.ts';
import type { HostTensor, OptimizerState, Value } from '../../../core/graph/index.ts';
import { rand } from './gradcheck.ts';

const shapes: Record<string, number[]> = { w: [7, 5], b: [5], u: [3] };

function tensors(seed: number, lim: number): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  Object.entries(shapes).forEach(([name, dims], i) => {
    const n = dims.reduce((a, b) => a * b, 1);
    out[name] = { data: Float32Array.from(rand(n, seed + i, -lim, lim)), dims };
  });
  return out;
}

function copy(ts: Record<string, HostTensor>): Record<string, HostTensor> {
  return Object.fromEntries(
    Object.entries(ts).map(([k, t]) => [k, { data: (t.data as Float32Array).slice(), dims: t.dims }]),
  );
}

function state(): OptimizerState {
  const s = initOptimizerState(tensors(1, 1));
  s.m = tensors(10, 0.01);
  s.v = Object.fromEntries(
    Object.entries(tensors(20, 1e-4)).map(([k, t]) => [
      k,
      { data: (t.data as Float32Array).map(Math.abs), dims: t.dims },
    ]),
  );
  s.step = 3;
  return s;
}

function cloneState(s: OptimizerState): OptimizerState {
  return { step: s.step, params: copy(s.params), m: copy(s.m), v: copy(s.v) };
}

for (const [label, maxGradNorm, exact] of [
  ['no clipping', null, true],
  ['clipping by the global norm', 0.05, false],
] as const) {
  test(`host AdamW equals the graph's (${label})`, async () => {
    const spec = { adamw: { weightDecay: 0.1 }, maxGradNorm };
    const specs = Object.entries(shapes).map(([name, shape]) => ({ name, dtype: 'float32' as const, shape }));
    const apply = await Executable.compile(buildApplyGrads(specs, spec));
    const grads = tensors(30, 0.5);
    const before = state();
    const graph = await runApplyGrads(apply, cloneState(before), grads, 3e-3, 0.5);
    const host = cloneState(before);
    const norm = adamwInPlace(
      host.params,
      host.m,
      host.v,
      grads,
      { step: 4, lr: 3e-3, gradScale: 0.5 },
      spec,
    );
    assert.ok(Math.abs(norm - graph.gradNorm) <= 1e-6 * graph.gradNorm, `norm ${norm} vs ${graph.gradNorm}`);
    for (const part of ['params', 'm', 'v'] as const)
      for (const name of Object.keys(shapes)) {
        const a = host[part][name].data as Float32Array;
        const b = graph.state[part][name].data as Float32Array;
        for (let i = 0; i < a.length; i++) {
          if (exact) assert.equal(a[i], b[i], `${part} ${name}[${i}]`);
          else assert.ok(Math.abs(a[i] - b[i]) <= 1e-6 * Math.abs(b[i]) + 1e-12, `${part} ${name}[${i}]`);
        }
      }
  });
}

test('an accumulating gradient step adds into the sum it is given, equal to the gradients added', async () => {
  const g = new Graph('quad');
  const x = g.input('x', 'float32', ['batch', 7]);
  const w = g.input('w', 'float32', [7, 5]);
  const b = g.input('b', 'float32', [5]);
  const u = g.input('u', 'float32', [3]);
  const y = op.tanh(op.add(op.matmul(x, w), b));
  const loss = op.add(op.sumAll(op.mul(y, y)), op.sumAll(op.mul(u, u)));
  const params: Value[] = [w, b, u];
  const plain = await Executable.compile(buildGradStep({ graph: g, loss, params }));
  const g2 = new Graph('quad');
  const x2 = g2.input('x', 'float32', ['batch', 7]);
  const w2 = g2.input('w', 'float32', [7, 5]);
  const b2 = g2.input('b', 'float32', [5]);
  const u2 = g2.input('u', 'float32', [3]);
  const y2 = op.tanh(op.add(op.matmul(x2, w2), b2));
  const loss2 = op.add(op.sumAll(op.mul(y2, y2)), op.sumAll(op.mul(u2, u2)));
  const accumulating = await Executable.compile(
    buildGradStep({ graph: g2, loss: loss2, params: [w2, b2, u2] }, { accumulate: true }),
  );
  const p = tensors(40, 1);
  const batches = [0, 1].map((k) => ({ x: { data: Float32Array.from(rand(4 * 7, 50 + k)), dims: [4, 7] } }));
  const acc = zeroGrads(p);
  const arrays = Object.values(acc).map((t) => t.data);
  for (const batch of batches) await runGradStepInto(accumulating, p, batch, acc);
  const [g0, g1] = [await runGradStep(plain, p, batches[0]), await runGradStep(plain, p, batches[1])];
  for (const name of Object.keys(shapes)) {
    const want = (g0.grads[name].data as Float32Array).map((v, i) => v + (g1.grads[name].data[i] as number));
    assert.deepEqual(Array.from(acc[name].data as Float32Array), Array.from(want), name);
  }
  assert.ok(
    Object.values(acc).every((t, i) => t.data === arrays[i]),
    'the sums stay in the arrays allocated before the steps',
  );
});
