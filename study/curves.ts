/**
 * The arms over training, as the paper plots its runs: per GRPO step, the training rollouts' accuracy, mean
 * response length and reflection-word rate, averaged over an arm's seeds, one line per arm of a factor
 * (the base arm in each). Read from each run's metrics log and rollout records (study/training.ts), so
 * they cost no evaluation.
 */
import type { LineChart, Point } from '../core/metrics/reportData.ts';
import { ARMS } from './arms.ts';
import type { SeedResult } from './stats.ts';

export type CurveMetric = 'accuracy' | 'meanLength' | 'reflectionRate';

const TITLES: Record<CurveMetric, { title: string; yLabel: string }> = {
  accuracy: { title: 'training accuracy over steps', yLabel: 'accuracy (T of the run)' },
  meanLength: { title: 'training response length over steps', yLabel: 'tokens' },
  reflectionRate: { title: 'training reflection-word rate over steps', yLabel: 'fraction of responses' },
};

/** Per step, the mean over seeds of those that have a value there (a seed without records is left out). */
export function meanCurve(seeds: readonly SeedResult[], metric: CurveMetric): Point[] {
  const byStep = new Map<number, number[]>();
  for (const s of seeds) {
    for (const p of s.training?.curve ?? []) {
      const y = p[metric];
      if (y === null || !Number.isFinite(y)) continue;
      (byStep.get(p.step) ?? byStep.set(p.step, []).get(p.step)!).push(y);
    }
  }
  return [...byStep.entries()]
    .sort(([a], [b]) => a - b)
    .map(([x, ys]) => ({ x, y: ys.reduce((a, b) => a + b, 0) / ys.length }));
}

/** One line per arm of `factor` (the base arm first); arms without a curve are left out. */
export function factorCurveChart(
  arms: Readonly<Record<string, SeedResult[]>>,
  factor: string,
  metric: CurveMetric,
  id: string,
): LineChart {
  const ids = ['base', ...ARMS.filter((a) => a.factor === factor).map((a) => a.id)];
  return {
    kind: 'line',
    id,
    title: `${factor}: ${TITLES[metric].title}`,
    xLabel: 'GRPO step',
    yLabel: TITLES[metric].yLabel,
    series: ids
      .map((armId) => ({ name: armId, points: meanCurve(arms[armId] ?? [], metric) }))
      .filter((s) => s.points.length > 0),
  };
}
