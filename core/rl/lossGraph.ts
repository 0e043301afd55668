/**
 * The actor loss as graph nodes: PPO-clip (clip-higher, dual-clip), KL estimators, entropy bonus and
 * verl's loss-aggregation modes, over [batch, tokens] tensors with a loss mask. Each function mirrors its
 * plain-number reference in this folder (policyLoss.ts, kl.ts, aggregation.ts); tests hold them equal.
 *
 * Aggregation takes its normaliser as an input (`lossNorm`, computed by `lossNormalizer` over the whole
 * mini-batch), so the losses of micro-batches add up exactly to the mini-batch loss and gradient
 * accumulation changes memory use only, never the math.
 */
import { op } from '../graph/index.ts';
import type { Value } from '../graph/index.ts';
import type { LossAggMode } from './aggregation.ts';
import type { KlEstimatorName } from './kl.ts';
import { K3_LOG_RATIO_CLAMP, K3_VALUE_CLAMP } from './kl.ts';
import type { ClipParams } from './policyLoss.ts';
import { LOG_RATIO_CLAMP } from './policyLoss.ts';

export interface PpoClipTokens {
  loss: Value;
  /** 1 where the clipped branch won with A > 0 / A < 0; 1 where the dual clip applied. */
  clippedHigh: Value;
  clippedLow: Value;
  dualClipped: Value;
  logRatio: Value;
  ratio: Value;
}

const asFloat = (b: Value, like: Value) => op.cast(b, like.dtype);

/** Per-token PPO-clip loss (policyLoss.ts `ppoClipTokenLoss`), with the clip indicators. */
export function ppoClipLossGraph(
  logprobs: Value,
  oldLogprobs: Value,
  advantages: Value,
  clip: ClipParams,
): PpoClipTokens {
  const logRatio = op.clip(op.sub(logprobs, oldLogprobs), -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
  const ratio = op.exp(logRatio);
  const negA = op.neg(advantages);
  const unclipped = op.mul(negA, ratio);
  const clipped = op.mul(negA, op.clip(ratio, 1 - clip.low, 1 + clip.high));
  const ppo = op.maximum(unclipped, clipped);
  const branch = asFloat(op.greater(clipped, unclipped), ppo);
  const positive = asFloat(op.greater(advantages, 0), ppo);
  const negative = asFloat(op.less(advantages, 0), ppo);
  let loss = ppo;
  let dualClipped = op.mul(ppo, 0);
  if (clip.dualClip !== undefined) {
    const floor = op.mul(negA, clip.dualClip);
    const applies = op.and(op.less(advantages, 0), op.greater(ppo, floor));
    loss = op.where(applies, floor, ppo);
    dualClipped = asFloat(applies, ppo);
  }
  return {
    loss,
    clippedHigh: op.mul(branch, positive),
    clippedLow: op.mul(branch, negative),
    dualClipped,
    logRatio,
    ratio,
  };
}

/** Per-token KL estimate of KL(π ‖ π_ref) from log-probs of the sampled tokens (kl.ts). */
export function klGraph(estimator: KlEstimatorName, logprobs: Value, refLogprobs: Value): Value {
  const x = op.sub(logprobs, refLogprobs);
  switch (estimator) {
    case 'k1':
      return x;
    case 'k2':
      return op.mul(op.mul(x, x), 0.5);
    case 'k3': {
      const logRatio = op.clip(op.neg(x), -K3_LOG_RATIO_CLAMP, K3_LOG_RATIO_CLAMP);
      return op.clip(op.sub(op.sub(op.exp(logRatio), logRatio), 1), -K3_VALUE_CLAMP, K3_VALUE_CLAMP);
    }
  }
}

/**
 * Σ over the batch of per-token values aggregated by `mode`, times `norm` (an input: 1/Σmask for
 * token-mean, 1/S' for the seq-mean modes, 1/(S'·maxLength) for seq-mean-token-sum-norm, all over the
 * mini-batch). Rows with no loss token contribute 0.
 */
export function aggregateLossGraph(values: Value, mask: Value, mode: LossAggMode, norm: Value): Value {
  const masked = op.mul(values, mask);
  if (mode === 'seq-mean-token-mean') {
    const rowSums = op.reduceSum(masked, [1], false);
    const rowCounts = op.maximum(op.reduceSum(mask, [1], false), 1);
    return op.mul(op.sumAll(op.div(rowSums, rowCounts)), norm);
  }
  return op.mul(op.sumAll(masked), norm);
}

/**
 * Entropy bonus and KL loss terms combined with the policy loss: pg − c_H·H + β·KL (reference:
 * test/unit/rl/reference/actorObjective.ts).
 */
export function actorLossGraph(terms: {
  pg: Value;
  entropy?: Value;
  entropyCoef?: Value;
  kl?: Value;
  klCoef?: Value;
}): Value {
  let loss = terms.pg;
  if (terms.entropy && terms.entropyCoef) loss = op.sub(loss, op.mul(terms.entropyCoef, terms.entropy));
  if (terms.kl && terms.klCoef) loss = op.add(loss, op.mul(terms.klCoef, terms.kl));
  return loss;
}

/**
 * The normaliser `aggregateLossGraph` expects for a mini-batch, given each row's count of loss tokens
 * (verl agg_loss semantics, aggregation.ts): 0 when nothing is trained on, so the loss is then 0.
 */
export function lossNormalizer(
  tokenCounts: readonly number[],
  mode: LossAggMode,
  maxLength?: number,
): number {
  if (mode === 'token-mean') {
    const tokens = tokenCounts.reduce((a, b) => a + b, 0);
    return tokens === 0 ? 0 : 1 / tokens;
  }
  const sequences = tokenCounts.filter((c) => c > 0).length;
  if (sequences === 0) return 0;
  if (mode === 'seq-mean-token-sum-norm') {
    if (!(Number.isInteger(maxLength) && maxLength! > 0))
      throw new RangeError(
        `lossNormalizer: mode ${mode} needs maxLength, a positive integer (got ${maxLength})`,
      );
    return 1 / (sequences * maxLength!);
  }
  return 1 / sequences;
}
