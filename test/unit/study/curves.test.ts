/**
 * The arms over training (study/curves.ts): per step, the mean over the seeds that have a value there, one
 * line per arm of a factor with the base arm first, and arms without a curve left out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { factorCurveChart, meanCurve } from '../../../study/curves.ts';
import type { SeedResult } from '../../../study/stats.ts';
import type { TrainingPoint } from '../../../study/training.ts';

const seed = (curve: TrainingPoint[]): SeedResult => ({
  seed: 100,
  accuracy: 1,
  greedyAccuracy: 1,
  meanLength: 30,
  lengthStd: 2,
  reflectionRate: 0,
  responses: 400,
  training: {
    meanTaskReward: 0,
    keptFraction: 1,
    lengthRewardedFraction: 0,
    meanLengthReward: 0,
    responses: 0,
    curve,
  },
});
const point = (step: number, accuracy: number, reflectionRate: number | null): TrainingPoint => ({
  step,
  accuracy,
  meanLength: 10 * step,
  reflectionRate,
});

test('the mean curve over seeds, step by step; a step without records leaves that seed out', () => {
  const a = seed([point(2, 0.5, null), point(1, 0.25, 0.1)]);
  const b = seed([point(1, 0.75, 0.3), point(2, 1, 0.2)]);
  assert.deepEqual(meanCurve([a, b], 'accuracy'), [
    { x: 1, y: 0.5 },
    { x: 2, y: 0.75 },
  ]);
  const reflection = meanCurve([a, b], 'reflectionRate');
  assert.equal(reflection.length, 2);
  assert.ok(Math.abs(reflection[0].y - 0.2) < 1e-12);
  assert.equal(reflection[1].y, 0.2, 'step 2: seed b only');
  assert.deepEqual(meanCurve([{ ...a, training: undefined }], 'accuracy'), []);
});

test("a factor's chart: the base arm first, then the factor's arms that have a curve", () => {
  const arms = {
    base: [seed([point(1, 0.5, 0)])],
    'n-4': [seed([point(1, 0.25, 0)])],
    'batch-8': [seed([point(1, 0.9, 0)])],
  };
  const chart = factorCurveChart(arms, 'rollouts per prompt', 'accuracy', 'c');
  assert.equal(chart.kind, 'line');
  assert.deepEqual(
    chart.series.map((s) => s.name),
    ['base', 'n-4'],
    'n-16 has no curve; batch-8 is another factor',
  );
  assert.equal(chart.xLabel, 'GRPO step');
});
