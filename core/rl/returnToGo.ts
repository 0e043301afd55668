/**
 * REINFORCE++ with token-level rewards (Hu 2025, arXiv:2501.03262, §3; verl
 * `compute_reinforce_plus_plus_outcome_advantage`): each token's advantage is its discounted return-to-go
 * G_t = r_t + γ·G_{t+1}, whitened over every loss token of the batch. With KL in the reward the token
 * rewards are r_t = −β·KL_t on the policy's own tokens plus the outcome on the last of them
 * (`klShapedTokenRewards`), so a token is charged only for the KL of what comes after it — unlike the
 * whole-sequence return, which charges every token for the KL of the entire response.
 *
 * One documented departure from verl: verl zeroes the running return at every token outside
 * response_mask ("reset after EOS"), meant for right padding; with a tool turn inside a response that
 * also cuts the outcome off from every token before the tool output. Here the return runs through
 * inserted tokens (they add no reward; γ still counts positions, as in verl); rows without tool output
 * — a prefix mask, what verl's reset was written for — give exactly verl's values.
 */
import { whiten } from './advantages.ts';
import { klShapedTokenRewards, type KlEstimatorName } from './kl.ts';
import { seqStartsFromLengths } from './tokens.ts';

/** Discounted return-to-go of one response: G_t = r_t + γ·G_{t+1}, G past the end = 0. */
export function returnToGo(tokenRewards: ArrayLike<number>, gamma: number): Float64Array {
  if (!(gamma >= 0 && gamma <= 1)) throw new RangeError(`returnToGo: gamma must be in [0, 1] (got ${gamma})`);
  const out = new Float64Array(tokenRewards.length);
  let running = 0;
  for (let t = tokenRewards.length - 1; t >= 0; t--) {
    running = tokenRewards[t] + gamma * running;
    out[t] = running;
  }
  return out;
}

/**
 * Per-token advantages of REINFORCE++: return-to-go per response, then whitening over the batch's loss
 * tokens (verl masked_whiten over response_mask); tokens outside the mask get 0.
 */
export function reinforcePlusPlusTokenAdvantages(
  tokenRewards: readonly ArrayLike<number>[],
  masks: readonly ArrayLike<number>[],
  gamma: number,
): Float64Array[] {
  if (masks.length !== tokenRewards.length) {
    throw new RangeError(
      `reinforcePlusPlusTokenAdvantages: ${tokenRewards.length} responses of rewards, ${masks.length} of masks`,
    );
  }
  const lengths = tokenRewards.map((r, i) => {
    if (masks[i].length !== r.length) {
      throw new RangeError(
        `reinforcePlusPlusTokenAdvantages: response ${i} has ${r.length} rewards and ${masks[i].length} mask entries`,
      );
    }
    return r.length;
  });
  const starts = seqStartsFromLengths(lengths);
  const returns = new Float64Array(starts[starts.length - 1]);
  const weights = new Float64Array(returns.length);
  tokenRewards.forEach((r, i) => {
    returns.set(returnToGo(r, gamma), starts[i]);
    for (let t = 0; t < r.length; t++) weights[starts[i] + t] = masks[i][t] !== 0 ? 1 : 0;
  });
  const whitened = whiten(returns, weights);
  return lengths.map((_, i) => whitened.slice(starts[i], starts[i + 1]));
}

/** What the token rewards of a batch are made of (per response: one array per token). */
export interface TokenRewardInput {
  outcomeRewards: readonly number[];
  /** Sampling-policy log-probs of each response's tokens (verl old_log_prob). */
  logprobs: readonly ArrayLike<number>[];
  /** Reference log-probs; absent when the KL is not in the reward (then r_t is the outcome only). */
  refLogprobs?: readonly ArrayLike<number>[];
  /** 1 on the tokens the policy sampled. */
  masks: readonly ArrayLike<number>[];
  coef: number;
  estimator: KlEstimatorName;
}

/** Token rewards per response: −β·KL_t on loss tokens, the outcome on the last loss token. */
export function tokenRewardsPerResponse(input: TokenRewardInput): Float64Array[] {
  const { outcomeRewards, logprobs, refLogprobs, masks } = input;
  const starts = seqStartsFromLengths(logprobs.map((l) => l.length));
  const flat = (rows: readonly ArrayLike<number>[]) => {
    const out = new Float64Array(starts[starts.length - 1]);
    rows.forEach((row, i) => out.set(Array.from(row), starts[i]));
    return out;
  };
  const lp = flat(logprobs);
  const rewards = klShapedTokenRewards({
    outcomeRewards,
    logprobs: lp,
    refLogprobs: refLogprobs ? flat(refLogprobs) : lp,
    mask: flat(masks),
    seqStarts: starts,
    coef: refLogprobs ? input.coef : 0,
    estimator: input.estimator,
  });
  return logprobs.map((_, i) => rewards.slice(starts[i], starts[i + 1]));
}
