import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrAt } from '../../../core/rl/lrSchedule.ts';

const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-18, `${a} vs ${b}`);

test('constant: the peak rate at every step, warm-up ignored', () => {
  for (const step of [0, 1, 1000])
    assert.equal(lrAt(step, { schedule: 'constant', lr: 2e-6, warmupSteps: 10 }), 2e-6);
});

test('linear warm-up from 0 (HF convention), then constant', () => {
  const s = { schedule: 'warmupConstant' as const, lr: 1e-5, warmupSteps: 4 };
  [0, 2.5e-6, 5e-6, 7.5e-6, 1e-5, 1e-5].forEach((lr, i) => near(lrAt([0, 1, 2, 3, 4, 100][i], s), lr));
});

test('warm-up + cosine to a floor: peak after warm-up, midpoint between peak and floor, floor at the end and after', () => {
  const s = {
    schedule: 'warmupCosine' as const,
    lr: 1e-5,
    warmupSteps: 10,
    totalSteps: 110,
    minLrRatio: 0.1,
  };
  near(lrAt(5, s), 5e-6);
  near(lrAt(10, s), 1e-5);
  near(lrAt(60, s), 1e-5 * (0.1 + 0.9 * 0.5));
  near(lrAt(110, s), 1e-6);
  near(lrAt(500, s), 1e-6);
  for (let t = 11; t <= 120; t++) assert.ok(lrAt(t, s) <= lrAt(t - 1, s));
});

test('invalid schedules are refused with the field named', () => {
  assert.throws(
    () => lrAt(0, { schedule: 'warmupCosine', lr: 1, warmupSteps: 5, totalSteps: 5 }),
    /totalSteps, an integer above warmupSteps \(5\)/,
  );
  assert.throws(
    () => lrAt(-1, { schedule: 'constant', lr: 1, warmupSteps: 0 }),
    /step must be an integer ≥ 0 \(got -1\)/,
  );
  assert.throws(
    () => lrAt(0, { schedule: 'warmupCosine', lr: 1, warmupSteps: 0, totalSteps: 9, minLrRatio: 2 }),
    /minLrRatio must be in \[0, 1\]/,
  );
});
