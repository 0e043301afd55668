/** Train-step graphs: accumulation equals the full batch; a small MLP learns a regression target. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Executable,
  Graph,
  accumulateGrads,
  buildApplyGrads,
  buildGradStep,
  buildTrainStep,
  initOptimizerState,
  op,
  runApplyGrads,
  runGradStep,
  runTrainStep,
} from '../../../core/graph/index.ts';
import type { HostTensor, Value } from '../../../core/graph/index.ts';
import { rand } from './gradcheck.ts';

/** y = tanh(x·W1 + b1)·W2 + b2; loss = Σ (y − target)² · scale, scale fed so micro-batches can share a denominator. */
function mlp(dtype: 'float32' | 'float64', inDim: number, hidden: number) {
  const g = new Graph('mlp');
  const x = g.input('x', dtype, ['batch', inDim]);
  const target = g.input('target', dtype, ['batch', 1]);
  const scale = g.input('scale', dtype, []);
  const w1 = g.input('w1', dtype, [inDim, hidden]);
  const b1 = g.input('b1', dtype, [hidden]);
  const w2 = g.input('w2', dtype, [hidden, 1]);
  const b2 = g.input('b2', dtype, [1]);
  const y = op.add(op.matmul(op.tanh(op.add(op.matmul(x, w1), b1)), w2), b2);
  const err = op.sub(y, target);
  const loss = op.mul(op.sumAll(op.mul(err, err)), scale);
  return { g, loss, params: [w1, b1, w2, b2] as Value[] };
}

function initParams(
  dtype: 'float32' | 'float64',
  inDim: number,
  hidden: number,
  seed: number,
): Record<string, HostTensor> {
  const make = (n: number, s: number, lim: number) =>
    dtype === 'float32' ? Float32Array.from(rand(n, s, -lim, lim)) : rand(n, s, -lim, lim);
  return {
    w1: { data: make(inDim * hidden, seed, 1 / Math.sqrt(inDim)), dims: [inDim, hidden] },
    b1: { data: make(hidden, seed + 1, 0.1), dims: [hidden] },
    w2: { data: make(hidden, seed + 2, 1 / Math.sqrt(hidden)), dims: [hidden, 1] },
    b2: { data: make(1, seed + 3, 0.1), dims: [1] },
  };
}

test('gradients accumulated over micro-batches equal the full-batch gradient', async () => {
  const { g, loss, params } = mlp('float64', 3, 5);
  const exec = await Executable.compile(buildGradStep({ graph: g, loss, params }));
  const p = initParams('float64', 3, 5, 7);
  const n = 12;
  const x = rand(n * 3, 70);
  const t = rand(n, 71);
  const scale = { data: new Float64Array([1 / n]), dims: [] };
  const full = await runGradStep(exec, p, {
    x: { data: x, dims: [n, 3] },
    target: { data: t, dims: [n, 1] },
    scale,
  });
  let acc: Record<string, HostTensor> | undefined;
  for (const [lo, hi] of [
    [0, 5],
    [5, 8],
    [8, 12],
  ]) {
    const micro = await runGradStep(exec, p, {
      x: { data: x.slice(lo * 3, hi * 3), dims: [hi - lo, 3] },
      target: { data: t.slice(lo, hi), dims: [hi - lo, 1] },
      scale,
    });
    acc = accumulateGrads(acc, micro.grads);
  }
  for (const name of Object.keys(p)) {
    const a = acc![name].data as Float64Array;
    const f = full.grads[name].data as Float64Array;
    for (let i = 0; i < a.length; i++)
      assert.ok(Math.abs(a[i] - f[i]) <= 1e-12 * Math.max(1, Math.abs(f[i])), `${name}[${i}]`);
  }
  await exec.release();
});

test('accumulate-then-apply gives the same parameters as the fused train step', async () => {
  const fused = mlp('float64', 2, 4);
  const fusedExec = await Executable.compile(
    buildTrainStep({ graph: fused.g, loss: fused.loss, params: fused.params, maxGradNorm: 0.5 }),
  );
  const split = mlp('float64', 2, 4);
  const gradExec = await Executable.compile(
    buildGradStep({ graph: split.g, loss: split.loss, params: split.params }),
  );
  const applyExec = await Executable.compile(
    buildApplyGrads(
      split.params.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape })),
      { maxGradNorm: 0.5 },
    ),
  );
  const n = 8;
  const x = rand(n * 2, 80);
  const t = rand(n, 81);
  const scale = { data: new Float64Array([1 / n]), dims: [] };
  let a = initOptimizerState(initParams('float64', 2, 4, 3));
  let b = initOptimizerState(initParams('float64', 2, 4, 3));
  for (let step = 0; step < 3; step++) {
    a = (
      await runTrainStep(
        fusedExec,
        a,
        { x: { data: x, dims: [n, 2] }, target: { data: t, dims: [n, 1] }, scale },
        0.05,
      )
    ).state;
    let acc: Record<string, HostTensor> | undefined;
    for (const [lo, hi] of [
      [0, 3],
      [3, 8],
    ]) {
      const micro = await runGradStep(gradExec, b.params, {
        x: { data: x.slice(lo * 2, hi * 2), dims: [hi - lo, 2] },
        target: { data: t.slice(lo, hi), dims: [hi - lo, 1] },
        scale,
      });
      acc = accumulateGrads(acc, micro.grads);
    }
    b = (await runApplyGrads(applyExec, b, acc!, 0.05)).state;
  }
  for (const name of Object.keys(a.params)) {
    const pa = a.params[name].data as Float64Array;
    const pb = b.params[name].data as Float64Array;
    for (let i = 0; i < pa.length; i++) assert.ok(Math.abs(pa[i] - pb[i]) <= 1e-12, `${name}[${i}]`);
  }
});

test('a small MLP trained by the engine fits a regression target', async () => {
  const inDim = 2;
  const hidden = 32;
  const { g, loss, params } = mlp('float32', inDim, hidden);
  const exec = await Executable.compile(
    buildTrainStep({ graph: g, loss, params, maxGradNorm: 1.0, adamw: { weightDecay: 0 } }),
  );
  const n = 64;
  const x = Float32Array.from(rand(n * inDim, 90, -1.5, 1.5));
  // A smooth non-linear target: y = sin(2·x0) + x1² − 0.5.
  const t = new Float32Array(n).map((_, i) => Math.sin(2 * x[2 * i]) + x[2 * i + 1] ** 2 - 0.5);
  const batch = {
    x: { data: x, dims: [n, inDim] },
    target: { data: t, dims: [n, 1] },
    scale: { data: new Float32Array([1 / n]), dims: [] },
  };
  let state = initOptimizerState(initParams('float32', inDim, hidden, 11));
  const first = (await runTrainStep(exec, state, batch, 0.02)).loss;
  let last = first;
  for (let step = 0; step < 400; step++) {
    const r = await runTrainStep(exec, state, batch, 0.02);
    state = r.state;
    last = r.loss;
  }
  // Mean squared error threshold: the target's variance is ≈0.6; a fit explains ≥97% of it.
  assert.ok(last < 0.02, `MSE after 400 steps ${last} (first ${first})`);
  assert.ok(first > 0.2, `initial MSE ${first} should be far from the fit`);
  assert.equal(state.step, 400);
});
