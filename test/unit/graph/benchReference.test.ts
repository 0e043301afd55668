/**
 * The graph-engine benchmark compares two implementations of one train step; this checks they are the
 * same computation (two steps, tiny config), so the benchmark's ratio compares like with like.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executable, initOptimizerState, runTrainStep } from '../../../core/graph/index.ts';
import { batchTokens, buildTinyTransformerStep, initialParameters } from '../../../bench/tinyTransformer.ts';
import { plainState, plainTrainStep } from '../../../bench/plainTransformer.ts';

test('engine and plain-TypeScript transformer steps agree on loss, grad norm and weights', async () => {
  const c = { vocab: 37, dim: 16, heads: 2, ffn: 24, batch: 2, seq: 6 };
  const exec = await Executable.compile(buildTinyTransformerStep(c, 0.5));
  const { tokens, targets } = batchTokens(c, 5);
  const batch = {
    tokens: { data: tokens, dims: [c.batch, c.seq] },
    targets: { data: targets, dims: [c.batch, c.seq] },
  };
  let state = initOptimizerState(initialParameters(c, 3));
  const plain = plainState(initialParameters(c, 3));
  for (let step = 0; step < 2; step++) {
    const a = await runTrainStep(exec, state, batch, 0.01);
    const b = plainTrainStep(c, plain, tokens, targets, 0.01, 0.5);
    assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `step ${step} loss ${a.loss} vs ${b.loss}`);
    assert.ok(
      Math.abs(a.gradNorm - b.gradNorm) < 1e-4 * b.gradNorm,
      `step ${step} grad norm ${a.gradNorm} vs ${b.gradNorm}`,
    );
    state = a.state;
  }
  for (const [name, t] of Object.entries(state.params)) {
    const got = t.data as Float32Array;
    const want = plain.params[name];
    for (let i = 0; i < want.length; i++)
      assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `${name}[${i}]: ${got[i]} vs ${want[i]}`);
  }
  await exec.release();
});
