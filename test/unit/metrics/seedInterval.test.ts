/**
 * The mean over seeds and its 95% Student's t interval (core/metrics/seedInterval.ts), checked against
 * values worked by hand, and its refusals of what cannot give an interval.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantile95, seedInterval } from '../../../core/metrics/seedInterval.ts';

test('three seeds: mean ± t(2) · s/√3', () => {
  // mean 2, sample sd 1, t(0.975, 2) = 4.303: half-width 4.303/√3 = 2.4843.
  const i = seedInterval([1, 2, 3]);
  assert.equal(i.mean, 2);
  assert.equal(i.seeds, 3);
  assert.ok(Math.abs(i.low - (2 - 4.303 / Math.sqrt(3))) < 1e-12);
  assert.ok(Math.abs(i.high - (2 + 4.303 / Math.sqrt(3))) < 1e-12);
});

test('identical seeds give a zero-width interval; many seeds the normal quantile', () => {
  assert.deepEqual(seedInterval([0.5, 0.5]), { mean: 0.5, low: 0.5, high: 0.5, seeds: 2 });
  assert.equal(quantile95(1), 12.706);
  assert.equal(quantile95(30), 1.96);
  assert.equal(quantile95(Infinity), 1.96);
});

test('fewer than two seeds or a non-finite value is refused, naming the problem', () => {
  assert.throws(() => seedInterval([1]), /at least 2 seeds \(got 1\)/);
  assert.throws(() => seedInterval([1, NaN]), /finite values/);
});
