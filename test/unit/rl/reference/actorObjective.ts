import { aggregateLoss, type LossAggMode } from '../../../../core/rl/aggregation.ts';
import { klPerToken, type KlEstimatorName } from '../../../../core/rl/kl.ts';
import { actorLoss, ppoClipLoss, type ClipParams } from '../../../../core/rl/policyLoss.ts';
import { checkLayout } from '../../../../core/rl/tokens.ts';

/**
 * The whole actor objective of one (micro-)batch from per-token numbers: what the train-step graph's
 * loss output must equal, with the metrics an update reports (verl dp_actor `update_policy`):
 *
 *   loss = pg_loss − entropyCoef·entropy + klCoef·kl_loss
 *
 * every term aggregated over the loss tokens with the same mode.
 */
export interface ActorObjectiveInput {
  /** log π_θ, log π_old (sampling policy) of the sampled tokens; per-token advantages. */
  logprobs: ArrayLike<number>;
  oldLogprobs: ArrayLike<number>;
  advantages: ArrayLike<number>;
  mask: ArrayLike<number>;
  seqStarts: ArrayLike<number>;
  clip: ClipParams;
  aggMode: LossAggMode;
  maxLength?: number;
  /** Per-token entropy of π_θ (needed when entropyCoef ≠ 0; reported when given). */
  entropies?: ArrayLike<number>;
  entropyCoef: number;
  /** KL to the reference as a loss term (kl.placement = "loss"); omit otherwise. */
  klLoss?: { estimator: KlEstimatorName; coef: number; refLogprobs: ArrayLike<number> };
}

export interface ActorObjective {
  loss: number;
  pgLoss: number;
  /** Aggregated entropy (0 when no entropies were given). */
  entropy: number;
  /** Aggregated KL to the reference (0 without a KL loss term). */
  klLoss: number;
  klCoef: number;
  clipFracHigh: number;
  clipFracLow: number;
  clipFrac: number;
  dualClipFrac: number;
  /** KL to the sampling policy (verl ppo_kl, k1) and its k3 version. */
  approxKl: number;
  approxKlK3: number;
}

export function actorObjective(input: ActorObjectiveInput): ActorObjective {
  const { mask, seqStarts, aggMode, maxLength, entropies, entropyCoef, klLoss } = input;
  checkLayout('actorObjective', seqStarts, { entropies, refLogprobs: klLoss?.refLogprobs });
  if (entropyCoef !== 0 && !entropies) {
    throw new RangeError(
      `actorObjective: entropyCoef is ${entropyCoef} but no per-token entropies were given`,
    );
  }
  const pg = ppoClipLoss(input);
  const entropy = entropies ? aggregateLoss(entropies, mask, seqStarts, aggMode, maxLength) : 0;
  const kl = klLoss
    ? aggregateLoss(
        klPerToken(klLoss.estimator, input.logprobs, klLoss.refLogprobs, mask),
        mask,
        seqStarts,
        aggMode,
        maxLength,
      )
    : 0;
  const klCoef = klLoss?.coef ?? 0;
  return {
    loss: actorLoss({ policyLoss: pg.loss, entropy, entropyCoef, klLoss: kl, klCoef }),
    pgLoss: pg.loss,
    entropy,
    klLoss: kl,
    klCoef,
    clipFracHigh: pg.clipFracHigh,
    clipFracLow: pg.clipFracLow,
    clipFrac: pg.clipFrac,
    dualClipFrac: pg.dualClipFrac,
    approxKl: pg.approxKl,
    approxKlK3: pg.approxKlK3,
  };
}
