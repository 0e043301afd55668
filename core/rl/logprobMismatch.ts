/**
 * How far the sampler's log-probs are from the trainer's recomputation of the same policy (verl's
 * rollout-vs-actor probability diff): an engine that batches requests together, or runs another kernel or
 * precision, samples from nearly — not exactly — the trainer's policy. Over the tokens the policy sampled
 * only (a tool's inserted tokens have no sampler log-prob).
 */
export interface LogprobMismatch {
  /** Mean |sampler − recomputed| over sampled tokens. */
  mean: number;
  /** Largest |sampler − recomputed| of any sampled token. */
  max: number;
}

export function logprobMismatch(
  sampler: readonly (readonly number[])[],
  recomputed: readonly (readonly number[])[],
  sampled: readonly (readonly boolean[])[],
): LogprobMismatch {
  let sum = 0;
  let count = 0;
  let max = 0;
  sampler.forEach((row, i) =>
    row.forEach((lp, t) => {
      if (!sampled[i][t]) return;
      const d = Math.abs(lp - recomputed[i][t]);
      sum += d;
      count++;
      if (d > max) max = d;
    }),
  );
  return { mean: count ? sum / count : 0, max };
}
