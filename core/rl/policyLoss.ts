import { aggregateLoss, maskedMean, type LossAggMode } from './aggregation.ts';
import { checkLayout } from './tokens.ts';

/**
 * PPO-clip policy loss, the plain-number reference the train-step graph is tested against. Per token,
 * with r = π_θ(a)/π_old(a) = exp(log π_θ − log π_old) and advantage A (verl `compute_policy_loss_vanilla`):
 *
 *   L = max(−A·r, −A·clip(r, 1 − ε_low, 1 + ε_high))          PPO (Schulman et al. 2017, eq. 7), with
 *                                                              separate bounds = DAPO's clip-higher
 *   L = min(L, −A·c)   when A < 0 and a dual-clip c is set     dual-clip PPO (Ye et al. 2020, eq. 5)
 *
 * "Clipped" below means the clipped branch won strictly, i.e. the token's gradient is 0.
 */

/** verl clamps log π_θ − log π_old to ±20 before exp ("for stability"). */
export const LOG_RATIO_CLAMP = 20;

export interface ClipParams {
  /** ε_low: the ratio is floored at 1 − ε_low (STILL-3: 0.2). */
  low: number;
  /** ε_high: the ratio is capped at 1 + ε_high (= ε_low for plain PPO; DAPO: 0.28). */
  high: number;
  /** Dual-clip constant c > 1 (verl's clip_ratio_c, 3 there); undefined = no dual clip. */
  dualClip?: number;
}

export function checkClipParams(fn: string, clip: ClipParams): void {
  if (!(clip.low >= 0 && clip.low < 1))
    throw new RangeError(`${fn}: clip.low must be in [0, 1) (got ${clip.low})`);
  if (!(clip.high >= 0) || !Number.isFinite(clip.high)) {
    throw new RangeError(`${fn}: clip.high must be a finite number ≥ 0 (got ${clip.high})`);
  }
  if (clip.dualClip !== undefined && !(clip.dualClip > 1 && Number.isFinite(clip.dualClip))) {
    throw new RangeError(`${fn}: clip.dualClip must be > 1 (got ${clip.dualClip})`);
  }
}

export interface PpoClipToken {
  loss: number;
  ratio: number;
  /** A > 0 and r > 1 + ε_high. */
  clippedHigh: boolean;
  /** A < 0 and r < 1 − ε_low. */
  clippedLow: boolean;
  /** A < 0 and the dual clip −A·c is below the clipped loss (verl's pg_clipfrac_lower). */
  dualClipped: boolean;
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** The PPO-clip loss of one token. */
export function ppoClipTokenLoss(
  logprob: number,
  oldLogprob: number,
  advantage: number,
  clip: ClipParams,
): PpoClipToken {
  const ratio = Math.exp(clamp(logprob - oldLogprob, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP));
  const unclipped = -advantage * ratio;
  const clipped = -advantage * clamp(ratio, 1 - clip.low, 1 + clip.high);
  const ppoLoss = Math.max(unclipped, clipped);
  const clippedBranch = clipped > unclipped;
  let loss = ppoLoss;
  let dualClipped = false;
  if (clip.dualClip !== undefined && advantage < 0) {
    const floor = -advantage * clip.dualClip;
    if (ppoLoss > floor) {
      loss = floor;
      dualClipped = true;
    }
  }
  return {
    loss,
    ratio,
    clippedHigh: clippedBranch && advantage > 0,
    clippedLow: clippedBranch && advantage < 0,
    dualClipped,
  };
}

/**
 * ∂L/∂(log π_θ) of one token: −A·r where the unclipped branch is active, 0 where a clip won (the ratio
 * is then a constant) — the gradient the graph's backward pass must reproduce. Inside the ±20 log-ratio
 * clamp only.
 */
export function ppoClipTokenGradient(
  logprob: number,
  oldLogprob: number,
  advantage: number,
  clip: ClipParams,
): number {
  const token = ppoClipTokenLoss(logprob, oldLogprob, advantage, clip);
  if (token.clippedHigh || token.clippedLow || token.dualClipped) return 0;
  return -advantage * token.ratio;
}

export interface PpoClipInput {
  /** log π_θ of each sampled token. */
  logprobs: ArrayLike<number>;
  /** log π_old: the sampling policy's log-probs of the same tokens. */
  oldLogprobs: ArrayLike<number>;
  /** Per-token advantages (an outcome advantage repeated over its sequence). */
  advantages: ArrayLike<number>;
  mask: ArrayLike<number>;
  seqStarts: ArrayLike<number>;
  clip: ClipParams;
  aggMode: LossAggMode;
  /** For seq-mean-token-sum-norm. */
  maxLength?: number;
}

export interface PpoClipResult {
  /** The aggregated policy-gradient loss (verl pg_loss). */
  loss: number;
  /** Per-token losses (0 where masked). */
  tokenLosses: Float64Array;
  /** Fractions of unmasked tokens (masked means, as verl's metrics). */
  clipFracHigh: number;
  clipFracLow: number;
  /** clipFracHigh + clipFracLow = verl's pg_clipfrac. */
  clipFrac: number;
  /** verl's pg_clipfrac_lower. */
  dualClipFrac: number;
  /** verl's ppo_kl: mean of log π_old − log π_θ, the k1 estimate of KL(π_old ‖ π_θ). */
  approxKl: number;
  /** The k3 estimate of the same KL, r − log r − 1 ≥ 0. */
  approxKlK3: number;
}

/** PPO-clip over a batch: per-token losses, aggregated by `aggMode`, with verl's metrics. */
export function ppoClipLoss(input: PpoClipInput): PpoClipResult {
  const { logprobs, oldLogprobs, advantages, mask, seqStarts, clip } = input;
  const tokens = checkLayout('ppoClipLoss', seqStarts, { logprobs, oldLogprobs, advantages, mask });
  checkClipParams('ppoClipLoss', clip);
  const tokenLosses = new Float64Array(tokens);
  const high = new Float64Array(tokens);
  const low = new Float64Array(tokens);
  const dual = new Float64Array(tokens);
  const k1 = new Float64Array(tokens);
  const k3 = new Float64Array(tokens);
  for (let t = 0; t < tokens; t++) {
    if (mask[t] === 0) continue;
    const token = ppoClipTokenLoss(logprobs[t], oldLogprobs[t], advantages[t], clip);
    tokenLosses[t] = token.loss;
    high[t] = token.clippedHigh ? 1 : 0;
    low[t] = token.clippedLow ? 1 : 0;
    dual[t] = token.dualClipped ? 1 : 0;
    const logRatio = clamp(logprobs[t] - oldLogprobs[t], -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
    k1[t] = -logRatio;
    k3[t] = token.ratio - logRatio - 1;
  }
  const clipFracHigh = maskedMean(high, mask);
  const clipFracLow = maskedMean(low, mask);
  return {
    loss: aggregateLoss(tokenLosses, mask, seqStarts, input.aggMode, input.maxLength),
    tokenLosses,
    clipFracHigh,
    clipFracLow,
    clipFrac: clipFracHigh + clipFracLow,
    dualClipFrac: maskedMean(dual, mask),
    approxKl: maskedMean(k1, mask),
    approxKlK3: maskedMean(k3, mask),
  };
}

export interface ActorLossTerms {
  policyLoss: number;
  /** Aggregated entropy of the policy (same aggregation mode). */
  entropy: number;
  entropyCoef: number;
  /** Aggregated KL to the reference (KL as a loss); 0 when the KL sits in the reward or is off. */
  klLoss: number;
  klCoef: number;
}

/** The scalar the actor minimises (verl dp_actor): pg_loss − c_H·entropy + β·kl_loss. */
export function actorLoss(terms: ActorLossTerms): number {
  return terms.policyLoss - terms.entropyCoef * terms.entropy + terms.klCoef * terms.klLoss;
}
