/**
 * The `n` most likely tokens of one logits row with their log-probs, as an OpenAI `top_logprobs` entry.
 * The log-probs are the sampler's (`tokenLogprob`: log softmax at the sampling temperature, T = 1 for
 * greedy), so the chosen token's entry equals its `token_logprobs` value.
 */
import { tokenLogprob } from '../generate/sampling.ts';

export interface TokenLogprob {
  token: number;
  logprob: number;
}

/** Indices of the `n` largest logits, largest first (lowest index on ties). */
export function topIndices(logits: ArrayLike<number>, n: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    if (best.length === n && !(logits[i] > logits[best[n - 1]])) continue;
    let at = best.length === n ? n - 1 : best.length;
    while (at > 0 && logits[i] > logits[best[at - 1]]) at--;
    best.splice(at, 0, i);
    if (best.length > n) best.pop();
  }
  return best;
}

export function topLogprobs(logits: ArrayLike<number>, n: number, temperature: number): TokenLogprob[] {
  const t = temperature > 0 ? temperature : 1;
  return topIndices(logits, n).map((token) => ({ token, logprob: tokenLogprob(logits, token, t) }));
}
