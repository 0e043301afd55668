import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADVANTAGE_ESTIMATOR_NAMES,
  advantageEstimators,
  drGrpoAdvantage,
  GRPO_EPSILON,
  groupIdsFromLayout,
  grpoAdvantage,
  reinforceBaselineAdvantage,
  reinforcePlusPlusAdvantage,
  reinforcePlusPlusBaselineAdvantage,
  rlooAdvantage,
  WHITEN_EPSILON,
} from '../../../core/rl/advantages.ts';

const close = (actual: ArrayLike<number>, expected: number[], tol = 1e-12) => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) < tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
};

test('groupIdsFromLayout lays prompts out prompt-major', () => {
  assert.deepEqual(Array.from(groupIdsFromLayout(2, 3)), [0, 0, 0, 1, 1, 1]);
  assert.throws(() => groupIdsFromLayout(2, 0), /n must be a positive integer \(got 0\)/);
});

test('GRPO worked example: (r − mean)/(std + 1e-8) with the unbiased std, per group', () => {
  // Group 0: [1, 0, 0, 1], mean 0.5, unbiased std √(1/3). Group 1: [1, −1, −2], mean −2/3, std √(7/3).
  const rewards = [1, 0, 0, 1, 1, -1, -2];
  const groups = [0, 0, 0, 0, 1, 1, 1];
  const s0 = Math.sqrt(1 / 3) + GRPO_EPSILON;
  const s1 = Math.sqrt(7 / 3) + GRPO_EPSILON;
  close(grpoAdvantage(rewards, groups), [
    0.5 / s0,
    -0.5 / s0,
    -0.5 / s0,
    0.5 / s0,
    5 / 3 / s1,
    -1 / 3 / s1,
    -4 / 3 / s1,
  ]);
  // Interleaved ids give the same per-response values.
  close(grpoAdvantage([1, 1, 0, -1, 0, -2, 1], [0, 1, 0, 1, 0, 1, 0]), [
    0.5 / s0,
    5 / 3 / s1,
    -0.5 / s0,
    -1 / 3 / s1,
    -0.5 / s0,
    -4 / 3 / s1,
    0.5 / s0,
  ]);
});

test('identical rewards give exactly zero advantages for every group estimator (no NaN, no rounding)', () => {
  const rewards = [0.1, 0.1, 0.1, -2, -2, -2];
  const groups = groupIdsFromLayout(2, 3);
  for (const fn of [grpoAdvantage, drGrpoAdvantage, rlooAdvantage, reinforcePlusPlusBaselineAdvantage]) {
    assert.deepEqual(Array.from(fn(rewards, groups)), [0, 0, 0, 0, 0, 0], fn.name);
  }
  assert.deepEqual(Array.from(reinforcePlusPlusAdvantage([0.1, 0.1, 0.1])), [0, 0, 0]);
});

test('a group of one response: mean 0, std 1 (verl), so the advantage is the reward', () => {
  close(
    grpoAdvantage([0.7, 1, 0], [5, 6, 6]),
    [0.7 / (1 + GRPO_EPSILON), 0.5 / Math.sqrt(0.5), -0.5 / Math.sqrt(0.5)],
    1e-7,
  );
  close(drGrpoAdvantage([0.7], [0]), [0.7]);
  close(rlooAdvantage([0.7], [0]), [0.7]);
});

test('Dr. GRPO subtracts the group mean only; RLOO = n/(n−1) × Dr. GRPO', () => {
  const rewards = [1, 0, 0, 1, 1, -1, -2, 0.5];
  const groups = [0, 0, 0, 0, 1, 1, 1, 1];
  close(drGrpoAdvantage(rewards, groups), [0.5, -0.5, -0.5, 0.5, 1.375, -0.625, -1.625, 0.875]);
  // RLOO worked example: A_0 = 1 − (0 + 0 + 1)/3.
  const rloo = rlooAdvantage(rewards, groups);
  assert.ok(Math.abs(rloo[0] - 2 / 3) < 1e-15);
  const dr = drGrpoAdvantage(rewards, groups);
  close(
    rloo,
    Array.from(dr, (a) => (a * 4) / 3),
  );
});

test('group advantages sum to zero within each group (GRPO, Dr. GRPO, RLOO)', () => {
  const rewards = Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.7) * 3);
  const groups = groupIdsFromLayout(8, 8);
  for (const fn of [grpoAdvantage, drGrpoAdvantage, rlooAdvantage]) {
    const a = fn(rewards, groups);
    for (let g = 0; g < 8; g++) {
      let sum = 0;
      for (let i = 0; i < 8; i++) sum += a[g * 8 + i];
      assert.ok(Math.abs(sum) < 1e-12, `${fn.name} group ${g}: ${sum}`);
    }
  }
});

test('REINFORCE++ whitens over the batch: worked example, and token weights = repeating per token', () => {
  // [1, 0, −1]: mean 0, unbiased variance 1.
  close(
    reinforcePlusPlusAdvantage([1, 0, -1]),
    [1, 0, -1].map((r) => r / Math.sqrt(1 + WHITEN_EPSILON)),
  );
  const rewards = [1, -1, 0.5];
  const counts = [2, 1, 3];
  const repeated = [1, 1, -1, 0.5, 0.5, 0.5];
  const perToken = reinforcePlusPlusAdvantage(repeated);
  const weighted = reinforcePlusPlusAdvantage(rewards, counts);
  close(weighted, [perToken[0], perToken[2], perToken[3]]);
  assert.throws(() => reinforcePlusPlusAdvantage([1, 2], [1]), /tokenCounts has 1 entries, rewards has 2/);
});

test('REINFORCE++-baseline = group-mean subtraction, then batch whitening', () => {
  const rewards = [1, 0, 2, 2, 5, 1];
  const groups = groupIdsFromLayout(2, 3);
  close(
    reinforcePlusPlusBaselineAdvantage(rewards, groups),
    Array.from(reinforcePlusPlusAdvantage(drGrpoAdvantage(rewards, groups))),
  );
});

test('REINFORCE with a running mean: baseline from earlier batches only, state returned, input untouched', () => {
  const first = reinforceBaselineAdvantage([1, 0, 1, 0]);
  close(first.advantages, [1, 0, 1, 0]); // fresh baseline is 0
  assert.deepEqual(first.baseline, { value: 0.5, count: 4 });
  const state = { ...first.baseline };
  const second = reinforceBaselineAdvantage([1, 1], state);
  close(second.advantages, [0.5, 0.5]);
  assert.ok(Math.abs(second.baseline.value - 4 / 6) < 1e-15); // cumulative mean of all six rewards
  assert.deepEqual(state, { value: 0.5, count: 4 });
  const ema = reinforceBaselineAdvantage([1, 1], state, 0.9);
  assert.ok(Math.abs(ema.baseline.value - (0.9 * 0.5 + 0.1 * 1)) < 1e-15);
  assert.throws(() => reinforceBaselineAdvantage([1], state, 1), /decay must be in \[0, 1\) \(got 1\)/);
});

test('the registry holds exactly the named estimators and dispatches to them', () => {
  assert.deepEqual(Object.keys(advantageEstimators).sort(), [...ADVANTAGE_ESTIMATOR_NAMES].sort());
  const input = { rewards: [1, 0, 0, 1], groupIds: [0, 0, 0, 0] };
  close(advantageEstimators.grpo(input).advantages, Array.from(grpoAdvantage(input.rewards, input.groupIds)));
  close(advantageEstimators.rloo(input).advantages, Array.from(rlooAdvantage(input.rewards, input.groupIds)));
  assert.deepEqual(advantageEstimators.reinforceBaseline(input).baseline, { value: 0.5, count: 4 });
});

test('bad input is refused with the position named', () => {
  assert.throws(() => grpoAdvantage([1, NaN], [0, 0]), /grpoAdvantage: rewards\[1\] is not finite/);
  assert.throws(() => rlooAdvantage([1, 2], [0]), /groupIds has 1 entries, rewards has 2/);
});
