import { checkLayout } from './tokens.ts';

/**
 * Per-token KL estimators between the policy π and the reference π_ref, from log-probs of the sampled
 * token (Schulman, "Approximating KL Divergence", 2020; verl `kl_penalty`). With x = log π − log π_ref
 * and tokens sampled from π, each is an estimator of KL(π ‖ π_ref):
 * - k1 = x                      unbiased, high variance, can be negative
 * - k2 = ½·x²                   biased, low variance, ≥ 0
 * - k3 = e^(−x) + x − 1         unbiased, low variance, ≥ 0 ("low_var_kl" in verl, GRPO's choice)
 */

/** verl clamps k3's log-ratio to ±20 before exp and the result to [−10, 10] ("for numerical stability"). */
export const K3_LOG_RATIO_CLAMP = 20;
export const K3_VALUE_CLAMP = 10;

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** k1: log π − log π_ref. */
export function k1Kl(logprob: number, refLogprob: number): number {
  return logprob - refLogprob;
}

/** k2: ½·(log π − log π_ref)². */
export function k2Kl(logprob: number, refLogprob: number): number {
  const x = logprob - refLogprob;
  return 0.5 * x * x;
}

/** k3: π_ref/π − log(π_ref/π) − 1, with verl's clamps. */
export function k3Kl(logprob: number, refLogprob: number): number {
  const logRatio = clamp(refLogprob - logprob, -K3_LOG_RATIO_CLAMP, K3_LOG_RATIO_CLAMP);
  return clamp(Math.exp(logRatio) - logRatio - 1, -K3_VALUE_CLAMP, K3_VALUE_CLAMP);
}

export const KL_ESTIMATOR_NAMES = ['k1', 'k2', 'k3'] as const;
export type KlEstimatorName = (typeof KL_ESTIMATOR_NAMES)[number];

export const klEstimators: Record<KlEstimatorName, (logprob: number, refLogprob: number) => number> = {
  k1: k1Kl,
  k2: k2Kl,
  k3: k3Kl,
};

/** The estimator at every token; tokens with mask 0 get 0 (verl multiplies by the response mask). */
export function klPerToken(
  estimator: KlEstimatorName,
  logprobs: ArrayLike<number>,
  refLogprobs: ArrayLike<number>,
  mask?: ArrayLike<number>,
): Float64Array {
  const kl = klEstimators[estimator];
  if (!kl)
    throw new RangeError(`klPerToken: unknown estimator "${estimator}" (one of ${KL_ESTIMATOR_NAMES})`);
  if (refLogprobs.length !== logprobs.length || (mask && mask.length !== logprobs.length)) {
    throw new RangeError(
      `klPerToken: logprobs (${logprobs.length}), refLogprobs (${refLogprobs.length})` +
        (mask ? ` and mask (${mask.length})` : '') +
        ' must have the same length',
    );
  }
  const out = new Float64Array(logprobs.length);
  for (let t = 0; t < logprobs.length; t++) {
    if (!mask || mask[t] !== 0) out[t] = kl(logprobs[t], refLogprobs[t]);
  }
  return out;
}

export interface KlShapedRewardInput {
  /** One outcome reward per sequence. */
  outcomeRewards: ArrayLike<number>;
  /** Log-probs of the sampled tokens under the sampling policy (verl: old_log_prob). */
  logprobs: ArrayLike<number>;
  refLogprobs: ArrayLike<number>;
  mask: ArrayLike<number>;
  seqStarts: ArrayLike<number>;
  coef: number;
  estimator?: KlEstimatorName;
}

/**
 * KL in the reward (Ziegler et al. 2019, eq. 2; verl `apply_kl_penalty`): token reward
 * r_t = −β·KL_t on every loss token, plus the outcome reward on the sequence's last loss token (where
 * verl puts the score). Default estimator k1, as STILL-3's 1.5B run. Throws if a sequence with a nonzero
 * outcome reward has no loss token to carry it.
 */
export function klShapedTokenRewards(input: KlShapedRewardInput): Float64Array {
  const { outcomeRewards, logprobs, refLogprobs, mask, seqStarts, coef } = input;
  checkLayout('klShapedTokenRewards', seqStarts, { logprobs, refLogprobs, mask });
  if (outcomeRewards.length !== seqStarts.length - 1) {
    throw new RangeError(
      `klShapedTokenRewards: ${outcomeRewards.length} outcome rewards for ${seqStarts.length - 1} sequences`,
    );
  }
  if (!Number.isFinite(coef)) throw new RangeError(`klShapedTokenRewards: coef must be finite (got ${coef})`);
  const kl = klPerToken(input.estimator ?? 'k1', logprobs, refLogprobs, mask);
  const rewards = new Float64Array(kl.length);
  for (let t = 0; t < kl.length; t++) rewards[t] = coef === 0 ? 0 : -coef * kl[t];
  for (let s = 0; s < outcomeRewards.length; s++) {
    let last = -1;
    for (let t = seqStarts[s]; t < seqStarts[s + 1]; t++) if (mask[t] !== 0) last = t;
    if (last >= 0) rewards[last] += outcomeRewards[s];
    else if (outcomeRewards[s] !== 0) {
      throw new RangeError(`klShapedTokenRewards: sequence ${s} has a reward but no loss token`);
    }
  }
  return rewards;
}

/**
 * Σ_t m_t·KL_t of each response (one array of per-token log-probs per response), summed in token order:
 * the response's KL to the reference that KL in the reward subtracts, and what the run's KL metric averages.
 */
export function responseKlSums(
  estimator: KlEstimatorName,
  logprobs: readonly ArrayLike<number>[],
  refLogprobs: readonly ArrayLike<number>[],
  masks: readonly ArrayLike<number>[],
): number[] {
  if (refLogprobs.length !== logprobs.length || masks.length !== logprobs.length) {
    throw new RangeError(
      `responseKlSums: ${logprobs.length} responses of logprobs, ${refLogprobs.length} of refLogprobs, ` +
        `${masks.length} of masks`,
    );
  }
  return logprobs.map((lp, i) => {
    const kl = klPerToken(estimator, lp, refLogprobs[i], masks[i]);
    let sum = 0;
    for (let t = 0; t < kl.length; t++) if (masks[i][t] !== 0) sum += kl[t];
    return sum;
  });
}

/**
 * KL in the reward at the response level: r_i − β·Σ_t m_t·KL_t (Ziegler et al. 2019, eq. 2, summed over
 * the response as verl's outcome estimators do with token_level_rewards.sum(-1)), from `responseKlSums`.
 */
export function klPenalizedRewards(
  rewards: readonly number[],
  klSums: readonly number[],
  coef: number,
): number[] {
  if (klSums.length !== rewards.length)
    throw new RangeError(`klPenalizedRewards: ${rewards.length} rewards, ${klSums.length} KL sums`);
  return rewards.map((r, i) => r - coef * klSums[i]);
}

/**
 * Undiscounted return of each sequence, Σ_t m_t·r_t: what verl's outcome estimators (GRPO, RLOO, …)
 * take as "the" reward when the KL is in the reward (token_level_rewards.sum(-1)).
 */
export function sequenceReturns(
  tokenRewards: ArrayLike<number>,
  mask: ArrayLike<number>,
  seqStarts: ArrayLike<number>,
): Float64Array {
  checkLayout('sequenceReturns', seqStarts, { tokenRewards, mask });
  const out = new Float64Array(seqStarts.length - 1);
  for (let s = 0; s < out.length; s++) {
    let sum = 0;
    for (let t = seqStarts[s]; t < seqStarts[s + 1]; t++) if (mask[t] !== 0) sum += tokenRewards[t];
    out[s] = sum;
  }
  return out;
}
