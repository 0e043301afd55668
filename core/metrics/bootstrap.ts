/**
 * A percentile bootstrap interval of a mean over problems (Efron & Tibshirani 1993, §13.3): resample the
 * problems' scores with replacement `resamples` times, and take the (1−level)/2 and (1+level)/2 quantiles of
 * the resampled means. `random` gives uniforms in [0, 1): a seeded one (the caller's, from core/random.ts)
 * makes a report's interval reproducible. The scores are per problem (its
 * avg@k, pass@k or maj@k), so samples of one problem never count as independent.
 */
export function bootstrapInterval(
  scores: readonly number[],
  random: () => number,
  level = 0.95,
  resamples = 2000,
): [number, number] {
  if (!(level > 0 && level < 1))
    throw new RangeError(`bootstrapInterval: level must be in (0, 1) (got ${level})`);
  const n = scores.length;
  if (n === 0) return [0, 0];
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += scores[Math.floor(random() * n)];
    means[b] = sum / n;
  }
  means.sort();
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  return [at((1 - level) / 2), at((1 + level) / 2)];
}
