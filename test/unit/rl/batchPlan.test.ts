import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOnPolicy, planUpdate, type UpdatePlanConfig } from '../../../core/rl/batchPlan.ts';

const base: UpdatePlanConfig = {
  batchSize: 16,
  miniBatchSize: 8,
  microBatchSize: 2,
  epochs: 2,
  seed: 7,
  step: 3,
};

test('every epoch visits every row exactly once, cut into mini- and micro-batches in order', () => {
  const plan = planUpdate(base);
  assert.equal(plan.optimizerSteps, 4);
  assert.equal(plan.microBatches.length, 2 * 2 * 4);
  for (let epoch = 0; epoch < 2; epoch++) {
    const batches = plan.microBatches.filter((m) => m.epoch === epoch);
    const rows = batches.flatMap((m) => Array.from(m.rows)).sort((a, b) => a - b);
    assert.deepEqual(
      rows,
      Array.from({ length: 16 }, (_, i) => i),
    );
    assert.deepEqual(
      batches.map((m) => [m.miniBatch, m.microBatch]),
      [
        [0, 0],
        [0, 1],
        [0, 2],
        [0, 3],
        [1, 0],
        [1, 1],
        [1, 2],
        [1, 3],
      ],
    );
    for (const m of batches) assert.equal(m.rows.length, 2);
  }
});

test('the order is a pure function of (seed, step, epoch): same plan twice, a new one when any changes', () => {
  const rowsOf = (c: UpdatePlanConfig) =>
    planUpdate(c)
      .microBatches.map((m) => Array.from(m.rows).join(','))
      .join('|');
  assert.equal(rowsOf(base), rowsOf({ ...base }));
  assert.notEqual(rowsOf(base), rowsOf({ ...base, seed: 8 }));
  assert.notEqual(rowsOf(base), rowsOf({ ...base, step: 4 }));
  const epochs = planUpdate(base).microBatches;
  assert.notEqual(
    epochs
      .filter((m) => m.epoch === 0)
      .map((m) => m.rows.join())
      .join(),
    epochs
      .filter((m) => m.epoch === 1)
      .map((m) => m.rows.join())
      .join(),
  );
  const unshuffled = planUpdate({ ...base, shuffle: false, epochs: 1 });
  assert.deepEqual(Array.from(unshuffled.microBatches[1].rows), [2, 3]);
});

test('the shuffle is uniform enough: each row lands in each position about equally often', () => {
  const n = 8;
  const counts = Array.from({ length: n }, () => new Array(n).fill(0));
  const trials = 4000;
  for (let step = 0; step < trials; step++) {
    const plan = planUpdate({ batchSize: n, miniBatchSize: n, microBatchSize: n, epochs: 1, seed: 1, step });
    plan.microBatches[0].rows.forEach((row, position) => counts[row][position]++);
  }
  // Expected 500 each; binomial sd ≈ 21, so ±110 is over 5 sd.
  for (const row of counts) for (const c of row) assert.ok(Math.abs(c - trials / n) < 110, `count ${c}`);
});

test('on-policy only with one epoch and mini-batch = batch', () => {
  assert.equal(isOnPolicy(planUpdate({ ...base, epochs: 1, miniBatchSize: 16 })), true);
  assert.equal(isOnPolicy(planUpdate({ ...base, epochs: 1 })), false);
  assert.equal(isOnPolicy(planUpdate({ ...base, miniBatchSize: 16 })), false);
});

test('sizes that do not nest are refused with the field named', () => {
  assert.throws(
    () => planUpdate({ ...base, miniBatchSize: 6 }),
    /miniBatchSize \(6\) must divide batchSize \(16\)/,
  );
  assert.throws(
    () => planUpdate({ ...base, miniBatchSize: 32 }),
    /miniBatchSize \(32\) must divide batchSize \(16\)/,
  );
  assert.throws(
    () => planUpdate({ ...base, microBatchSize: 3 }),
    /microBatchSize \(3\) must divide miniBatchSize \(8\)/,
  );
  assert.throws(() => planUpdate({ ...base, epochs: 0 }), /epochs must be a positive integer \(got 0\)/);
  assert.throws(() => planUpdate({ ...base, seed: -1 }), /seed must be an integer in \[0, 2\^32\)/);
});
