/** AdamW + global-norm clipping in the graph against a plain-TypeScript transcription of torch.optim.AdamW. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADAMW_DEFAULTS,
  CLIP_NORM_EPS,
  Executable,
  buildApplyGrads,
  initOptimizerState,
  runApplyGrads,
} from '../../../core/graph/index.ts';
import type { AdamWConfig, HostTensor } from '../../../core/graph/index.ts';
import { rand } from './gradcheck.ts';

interface RefState {
  p: Float64Array[];
  m: Float64Array[];
  v: Float64Array[];
  t: number;
}

/** torch.nn.utils.clip_grad_norm_ followed by torch.optim.AdamW.step, written out element by element. */
function referenceStep(
  s: RefState,
  grads: Float64Array[],
  lr: number,
  cfg: AdamWConfig,
  maxNorm: number,
): number {
  let sq = 0;
  for (const g of grads) for (const x of g) sq += x * x;
  const norm = Math.sqrt(sq);
  const coef = Math.min(maxNorm / (norm + CLIP_NORM_EPS), 1);
  s.t += 1;
  const bc1 = 1 - cfg.beta1 ** s.t;
  const bc2 = 1 - cfg.beta2 ** s.t;
  s.p.forEach((p, i) => {
    for (let k = 0; k < p.length; k++) {
      const g = grads[i][k] * coef;
      p[k] *= 1 - lr * cfg.weightDecay;
      s.m[i][k] = cfg.beta1 * s.m[i][k] + (1 - cfg.beta1) * g;
      s.v[i][k] = cfg.beta2 * s.v[i][k] + (1 - cfg.beta2) * g * g;
      const denom = Math.sqrt(s.v[i][k]) / Math.sqrt(bc2) + cfg.eps;
      p[k] -= (lr / bc1) * (s.m[i][k] / denom);
    }
  });
  return norm;
}

test('AdamW with clipping equals the reference over 20 steps (1e-6)', async () => {
  const shapes = [[3, 4], [4], [2, 2, 2]];
  const cfg = { ...ADAMW_DEFAULTS, weightDecay: 0.1 };
  const maxNorm = 1.5;
  const graph = buildApplyGrads(
    shapes.map((s, i) => ({ name: `p${i}`, dtype: 'float64' as const, shape: s })),
    { adamw: cfg, maxGradNorm: maxNorm },
  );
  const exec = await Executable.compile(graph);
  const init = shapes.map((s, i) =>
    rand(
      s.reduce((a, b) => a * b, 1),
      100 + i,
    ),
  );
  const params: Record<string, HostTensor> = {};
  init.forEach((d, i) => (params[`p${i}`] = { data: d.slice(), dims: shapes[i] }));
  let state = initOptimizerState(params);
  const ref: RefState = {
    p: init.map((d) => d.slice()),
    m: init.map((d) => new Float64Array(d.length)),
    v: init.map((d) => new Float64Array(d.length)),
    t: 0,
  };
  let clippedSteps = 0;
  for (let step = 0; step < 20; step++) {
    // Large gradients on some steps so clipping is exercised, small on others so it is not.
    const scale = step % 3 === 0 ? 5 : 0.2;
    const grads = init.map((d, i) => rand(d.length, 1000 + step * 7 + i, -scale, scale));
    const lr = 0.01 * (1 + step / 10);
    const gradFeeds: Record<string, HostTensor> = {};
    grads.forEach((g, i) => (gradFeeds[`p${i}`] = { data: g, dims: shapes[i] }));
    const r = await runApplyGrads(exec, state, gradFeeds, lr);
    const refNorm = referenceStep(ref, grads, lr, cfg, maxNorm);
    if (refNorm > maxNorm) clippedSteps++;
    assert.ok(Math.abs(r.gradNorm - refNorm) <= 1e-9 * refNorm, `step ${step} grad norm`);
    state = r.state;
  }
  assert.ok(clippedSteps > 0 && clippedSteps < 20, 'clipping was exercised on some steps only');
  assert.equal(state.step, 20);
  ref.p.forEach((p, i) => {
    const got = state.params[`p${i}`].data as Float64Array;
    for (let k = 0; k < p.length; k++)
      assert.ok(Math.abs(got[k] - p[k]) <= 1e-6, `p${i}[${k}]: ${got[k]} vs ${p[k]}`);
  });
  await exec.release();
});

test('noDecay exempts a parameter from weight decay; zero gradient then leaves it unchanged', async () => {
  const graph = buildApplyGrads(
    [
      { name: 'w', dtype: 'float32', shape: [2] },
      { name: 'norm', dtype: 'float32', shape: [2] },
    ],
    { adamw: { weightDecay: 0.5 }, noDecay: (n) => n === 'norm' },
  );
  const exec = await Executable.compile(graph);
  const state = initOptimizerState({
    w: { data: new Float32Array([1, 2]), dims: [2] },
    norm: { data: new Float32Array([1, 2]), dims: [2] },
  });
  const zero = { data: new Float32Array(2), dims: [2] };
  const r = await runApplyGrads(exec, state, { w: zero, norm: zero }, 0.1);
  assert.deepEqual([...(r.state.params.norm.data as Float32Array)], [1, 2]);
  assert.deepEqual([...(r.state.params.w.data as Float32Array)], [Math.fround(0.95), Math.fround(1.9)]);
  await exec.release();
});
