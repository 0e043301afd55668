/**
 * Estimates and confidence intervals for the study. With several seeds an arm's uncertainty is the spread
 * between seeds (Student's t); with one seed it is the sampling error over the held-out responses (a
 * normal approximation, which ignores that responses to one problem are correlated — so single-seed
 * intervals are too narrow, and the report says so).
 */
import { quantile95 } from '../core/metrics/seedInterval.ts';
import type { Finding } from './arms.ts';
import type { TrainingSignal } from './training.ts';

export interface SeedResult {
  seed: number;
  /** Sampled (T = 0.6, top-p 0.95: the paper's protocol) pass@1 on the held-out problems. */
  accuracy: number;
  /** The same at the training temperature (T = 1.0, no top-p); absent in results made before it. */
  accuracyT1?: number;
  greedyAccuracy: number;
  meanLength: number;
  lengthStd: number;
  /** Fraction of the sampled responses with at least one of RRA's reflection words. */
  reflectionRate: number;
  /** Mean length and reflection rate at the training temperature; absent in results made before them. */
  meanLengthT1?: number;
  lengthStdT1?: number;
  reflectionRateT1?: number;
  /** Responses the sampled evaluation scored. */
  responses: number;
  /** What the arm's GRPO run trained on (absent for the SFT model). */
  training?: TrainingSignal;
}

/**
 * What an arm is compared on, each on the held-out responses sampled at T = 0.6 and at T = 1.0:
 * accuracy, mean response length, reflection-word rate.
 */
export type ArmMetric = 'accuracy' | 'accuracyT1' | 'length' | 'lengthT1' | 'reflection' | 'reflectionT1';

const METRIC_VALUE: Record<ArmMetric, (s: SeedResult) => number> = {
  accuracy: (s) => s.accuracy,
  accuracyT1: (s) => s.accuracyT1 ?? NaN,
  length: (s) => s.meanLength,
  lengthT1: (s) => s.meanLengthT1 ?? NaN,
  reflection: (s) => s.reflectionRate,
  reflectionT1: (s) => s.reflectionRateT1 ?? NaN,
};

/** The per-response spread of a mean-valued metric (a single seed's standard error); the rest are fractions. */
const METRIC_STD: Partial<Record<ArmMetric, (s: SeedResult) => number>> = {
  length: (s) => s.lengthStd,
  lengthT1: (s) => s.lengthStdT1 ?? NaN,
};

export interface Estimate {
  mean: number;
  se: number;
  /** Degrees of freedom of the t quantile; Infinity = normal. */
  df: number;
}

export { quantile95 };

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export function armEstimate(seeds: readonly SeedResult[], metric: ArmMetric): Estimate {
  if (seeds.length === 0) return { mean: NaN, se: NaN, df: Infinity };
  const values = seeds.map(METRIC_VALUE[metric]);
  const m = mean(values);
  if (seeds.length >= 2) {
    const variance = values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1);
    return { mean: m, se: Math.sqrt(variance / values.length), df: values.length - 1 };
  }
  // One seed: accuracy and the reflection rate are fractions of responses (binomial), length a mean.
  const s = seeds[0];
  const std = METRIC_STD[metric];
  const se = std ? std(s) / Math.sqrt(s.responses) : Math.sqrt((m * (1 - m)) / s.responses);
  return { mean: m, se, df: Infinity };
}

export interface Difference {
  diff: number;
  low: number;
  high: number;
}

/** a − b with a 95% interval (the smaller of the two arms' degrees of freedom: conservative). */
export function difference(a: Estimate, b: Estimate): Difference {
  const diff = a.mean - b.mean;
  const half = quantile95(Math.min(a.df, b.df)) * Math.hypot(a.se, b.se);
  return { diff, low: diff - half, high: diff + half };
}

export type Verdict =
  'reproduced' | 'same direction, not significant' | 'not reproduced' | 'opposite (significant)' | 'no data';

/**
 * Whether the miniature shows the paper's direction. For "X beats Y": X − Y > 0 with the interval above 0
 * (reproduced), > 0 without it (same direction, not significant), ≤ 0 with the interval reaching 0 (not
 * reproduced), the interval below 0 (opposite, significant). For "X keeps accuracy": no significant loss.
 */
export function verdictOf(f: Finding, d: Difference): Verdict {
  if (!Number.isFinite(d.diff)) return 'no data';
  if (f.keeps) return d.high >= 0 ? 'reproduced' : 'opposite (significant)';
  if (d.low > 0) return 'reproduced';
  if (d.diff > 0) return 'same direction, not significant';
  return d.high >= 0 ? 'not reproduced' : 'opposite (significant)';
}
