import { checkLayout } from './tokens.ts';

/**
 * Loss aggregation: from per-token losses to one scalar, the modes of verl's `agg_loss` (core_algos.py,
 * verl 0.9.1, one data-parallel rank). L_t the token loss, m_t the mask, S' the number of sequences with
 * at least one loss token (fully masked sequences, e.g. filtered ones, are left out of every seq-mean):
 * - token-mean:              Σ m·L / Σ m                        every token weighs the same (DAPO)
 * - seq-mean-token-mean:     (1/S') Σ_s [Σ_t m·L / Σ_t m]      every sequence weighs the same (GRPO)
 * - seq-mean-token-sum:      (1/S') Σ_s Σ_t m·L
 * - seq-mean-token-sum-norm: (1/S') Σ_s Σ_t m·L / maxLength    Dr. GRPO's constant normaliser
 * Where verl would divide 0 by 0 (no loss token at all) the result is 0; verl adds 1e-8 to each
 * sequence's token count in seq-mean-token-mean, a relative difference ≤ 1e-8 not reproduced here.
 * (verl before 0.9 counted fully masked sequences in S and had no 1/S in the -norm mode.)
 */
export const LOSS_AGG_MODES = [
  'token-mean',
  'seq-mean-token-mean',
  'seq-mean-token-sum',
  'seq-mean-token-sum-norm',
] as const;
export type LossAggMode = (typeof LOSS_AGG_MODES)[number];

/** Masked mean over all tokens: Σ m·x / Σ m (0 when nothing is unmasked). */
export function maskedMean(values: ArrayLike<number>, mask: ArrayLike<number>): number {
  let sum = 0;
  let count = 0;
  for (let t = 0; t < values.length; t++) {
    if (mask[t] !== 0) {
      sum += mask[t] * values[t];
      count += mask[t];
    }
  }
  return count === 0 ? 0 : sum / count;
}

/** verl `agg_loss(loss_mat, loss_mask, mode)` over the flat layout; `maxLength` only for the -norm mode. */
export function aggregateLoss(
  losses: ArrayLike<number>,
  mask: ArrayLike<number>,
  seqStarts: ArrayLike<number>,
  mode: LossAggMode,
  maxLength?: number,
): number {
  checkLayout('aggregateLoss', seqStarts, { losses, mask });
  if (!(LOSS_AGG_MODES as readonly string[]).includes(mode)) {
    throw new RangeError(`aggregateLoss: unknown mode "${mode}" (one of ${LOSS_AGG_MODES.join(', ')})`);
  }
  if (mode === 'seq-mean-token-sum-norm' && !(Number.isInteger(maxLength) && maxLength! > 0)) {
    throw new RangeError(
      `aggregateLoss: mode ${mode} needs maxLength, a positive integer (got ${maxLength})`,
    );
  }
  if (mode === 'token-mean') return maskedMean(losses, mask);
  let total = 0;
  let sequences = 0;
  for (let s = 0; s + 1 < seqStarts.length; s++) {
    let sum = 0;
    let count = 0;
    for (let t = seqStarts[s]; t < seqStarts[s + 1]; t++) {
      if (mask[t] !== 0) {
        sum += mask[t] * losses[t];
        count += mask[t];
      }
    }
    if (count === 0) continue;
    sequences++;
    total += mode === 'seq-mean-token-mean' ? sum / count : sum;
  }
  if (sequences === 0) return 0;
  const seqMean = total / sequences;
  return mode === 'seq-mean-token-sum-norm' ? seqMean / maxLength! : seqMean;
}
