/**
 * The STILL-3 1.5B reward (DESIGN.md §6): +1 correct, −1 wrong, −2 when there is no `\boxed{}` answer.
 * Truncated responses are configurable, since cutting a response off is not the same failure as
 * answering wrongly.
 */
import type { ResponseInfo } from './response.ts';

/** Reward values from the STILL-3 1.5B recipe. */
export const STILL_CORRECT_REWARD = 1;
export const STILL_WRONG_REWARD = -1;
export const STILL_NO_BOXED_REWARD = -2;

/**
 * `score`: a truncated response is scored like any other (usually it has no box: −2).
 * `wrong`: truncated counts as a wrong answer (−1) even with no box.
 * `zero`: truncated responses get 0 (no signal either way).
 */
export type TruncatedHandling = 'score' | 'wrong' | 'zero';

export interface StillRewardOptions {
  correct?: number;
  wrong?: number;
  noBoxed?: number;
  truncated?: TruncatedHandling;
}

export function still15bReward(
  r: Pick<ResponseInfo, 'correct' | 'hasBoxed' | 'truncated'>,
  o: StillRewardOptions = {},
): number {
  const correct = o.correct ?? STILL_CORRECT_REWARD;
  const wrong = o.wrong ?? STILL_WRONG_REWARD;
  const noBoxed = o.noBoxed ?? STILL_NO_BOXED_REWARD;
  if (r.truncated && o.truncated === 'zero') return 0;
  if (r.truncated && o.truncated === 'wrong') return r.correct && r.hasBoxed ? correct : wrong;
  if (!r.hasBoxed) return noBoxed;
  return r.correct ? correct : wrong;
}
