/** logprobMismatch: mean and largest |sampler − recomputed| over sampled tokens only. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logprobMismatch } from '../../../core/rl/logprobMismatch.ts';

test('counts sampled tokens only; no sampled token is no mismatch', () => {
  const m = logprobMismatch(
    [
      [-1, -2, 0],
      [-0.5, 0],
    ],
    [
      [-1.5, -2, -9],
      [-0.25, -7],
    ],
    [
      [true, true, false],
      [true, false],
    ],
  );
  assert.equal(m.max, 0.5);
  assert.equal(m.mean, (0.5 + 0 + 0.25) / 3);
  assert.deepEqual(logprobMismatch([[0]], [[-3]], [[false]]), { mean: 0, max: 0 });
});
