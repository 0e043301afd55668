import { aggregateLoss, type LossAggMode } from '../../../../core/rl/aggregation.ts';
import { crossEntropyFromLogits } from './entropy.ts';
import { checkLayout } from '../../../../core/rl/tokens.ts';

/**
 * Supervised fine-tuning loss: masked cross-entropy −log π(target), aggregated like the RL losses
 * (token-mean is HF Trainer's / verl's SFT default). Tokens with mask 0 (prompt, tool output) never count.
 */
export function sftLoss(
  targetLogprobs: ArrayLike<number>,
  mask: ArrayLike<number>,
  seqStarts: ArrayLike<number>,
  mode: LossAggMode = 'token-mean',
  maxLength?: number,
): number {
  checkLayout('sftLoss', seqStarts, { targetLogprobs, mask });
  const nll = new Float64Array(targetLogprobs.length);
  for (let t = 0; t < nll.length; t++) if (mask[t] !== 0) nll[t] = -targetLogprobs[t];
  return aggregateLoss(nll, mask, seqStarts, mode, maxLength);
}

/** `sftLoss` from logits rows: `logits` holds tokens × vocab values, row t scoring `targets[t]`. */
export function sftLossFromLogits(
  logits: Float32Array | Float64Array,
  vocab: number,
  targets: ArrayLike<number>,
  mask: ArrayLike<number>,
  seqStarts: ArrayLike<number>,
  mode: LossAggMode = 'token-mean',
  maxLength?: number,
): number {
  const tokens = checkLayout('sftLossFromLogits', seqStarts, { targets, mask });
  if (logits.length !== tokens * vocab) {
    throw new RangeError(
      `sftLossFromLogits: logits has ${logits.length} values, expected ${tokens} × ${vocab}`,
    );
  }
  const logprobs = new Float64Array(tokens);
  for (let t = 0; t < tokens; t++) {
    if (mask[t] === 0) continue;
    logprobs[t] = -crossEntropyFromLogits(logits.subarray(t * vocab, (t + 1) * vocab), targets[t]);
  }
  return sftLoss(logprobs, mask, seqStarts, mode, maxLength);
}
