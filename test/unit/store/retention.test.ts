import assert from 'node:assert/strict';
import { it } from 'node:test';
import { retentionPlan } from '../../../core/store/index.ts';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

it('keeps the last K whole, weights every M, deletes the rest', () => {
  const plan = retentionPlan({ withManifest: range(1, 10), withoutManifest: [], pruned: [] }, 10, {
    keepLastOptimizerStates: 3,
    keepWeightsEvery: 4,
  });
  assert.deepEqual(plan, { keep: [8, 9, 10], pruneOptimizer: [4], delete: [1, 2, 3, 5, 6, 7] });
});

it('never touches the newest verified checkpoint or anything newer than it', () => {
  // Step 10 is corrupted, so 9 is the anchor; 10 stays for inspection, 9 stays whole.
  const plan = retentionPlan({ withManifest: range(1, 10), withoutManifest: [11], pruned: [] }, 9, {
    keepLastOptimizerStates: 1,
    keepWeightsEvery: 100,
  });
  assert.deepEqual(plan, { keep: [9, 10], pruneOptimizer: [], delete: [1, 2, 3, 4, 5, 6, 7, 8] });
});

it('deletes manifest-less leftovers only below the anchor (a newer one may be being written)', () => {
  const plan = retentionPlan({ withManifest: [2, 4], withoutManifest: [3, 5], pruned: [] }, 4, {
    keepLastOptimizerStates: 2,
    keepWeightsEvery: 1,
  });
  assert.deepEqual(plan, { keep: [2, 4], pruneOptimizer: [], delete: [3] });
});

it('with no verified checkpoint it deletes nothing', () => {
  const plan = retentionPlan({ withManifest: [1, 2, 3], withoutManifest: [0], pruned: [] }, undefined, {
    keepLastOptimizerStates: 1,
    keepWeightsEvery: 1,
  });
  assert.deepEqual(plan, { keep: [1, 2, 3], pruneOptimizer: [], delete: [] });
});

it('does not prune twice', () => {
  const plan = retentionPlan({ withManifest: [2, 4, 5], withoutManifest: [], pruned: [2] }, 5, {
    keepLastOptimizerStates: 1,
    keepWeightsEvery: 2,
  });
  assert.deepEqual(plan, { keep: [2, 5], pruneOptimizer: [4], delete: [] });
});

it('rejects a policy that would keep nothing resumable', () => {
  const steps = { withManifest: [1], withoutManifest: [], pruned: [] };
  assert.throws(
    () => retentionPlan(steps, 1, { keepLastOptimizerStates: 0, keepWeightsEvery: 1 }),
    /retention\.keepLastOptimizerStates must be a positive integer \(got 0\)/,
  );
  assert.throws(
    () => retentionPlan(steps, 1, { keepLastOptimizerStates: 1, keepWeightsEvery: -2 }),
    /retention\.keepWeightsEvery must be a positive integer \(got -2\)/,
  );
});

it('keeps the weights of KL reference checkpoints (multiples of referenceEvery) as well', () => {
  const plan = retentionPlan({ withManifest: range(1, 10), withoutManifest: [], pruned: [] }, 10, {
    keepLastOptimizerStates: 3,
    keepWeightsEvery: 4,
    referenceEvery: 3,
  });
  assert.deepEqual(plan, { keep: [8, 9, 10], pruneOptimizer: [3, 4, 6], delete: [1, 2, 5, 7] });
});
