/**
 * A mean over independent seeds with its 95% interval (Student's t): the uncertainty of a run's result
 * is the spread between seeds, not the sampling error inside one run (responses to one model are
 * correlated through its weights). The study (study/stats.ts) and the length experiment share it.
 */

/** Two-sided 95% quantiles of Student's t for 1–9 degrees of freedom (then ≈ normal). */
const T95 = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262];
const Z95 = 1.96;

export function quantile95(df: number): number {
  return Number.isFinite(df) && df < T95.length ? T95[df] : Z95;
}

export interface SeedInterval {
  mean: number;
  low: number;
  high: number;
  seeds: number;
}

/** The mean of `values` (one per seed) and its 95% t-interval; at least two seeds, all finite. */
export function seedInterval(values: readonly number[]): SeedInterval {
  if (values.length < 2) throw new Error(`a seed interval needs at least 2 seeds (got ${values.length})`);
  if (values.some((v) => !Number.isFinite(v))) {
    throw new Error(`a seed interval needs finite values (got ${values.join(', ')})`);
  }
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const half = quantile95(n - 1) * Math.sqrt(variance / n);
  return { mean, low: mean - half, high: mean + half, seeds: n };
}
