/**
 * The paper's length-encouragement strategies (STILL-3 §4.2, DESIGN.md §6), as pure functions over one
 * prompt's group of responses:
 * - QS (question selection): train only on questions whose correct responses are longer on average
 *   than the wrong ones;
 * - RS (response selection): train only on the (longest correct, shortest wrong) pair, when the correct
 *   one is the longer;
 * - RRL (length reward): R = L / Lmax + Rcorr;
 * - RRA (reflection-word reward): R = min(A, 20) / 20 + Rcorr, A = count of however/but/wait/verify/alternatively;
 * - ORM (overlong response masking): truncated responses are masked out of the loss.
 * The finding: all lengthen responses; only RRA keeps accuracy.
 */
import type { ResponseInfo } from './response.ts';

export type LengthStrategy = 'none' | 'qs' | 'rs' | 'rrl' | 'rra' | 'orm';

export const LENGTH_STRATEGIES: readonly LengthStrategy[] = ['none', 'qs', 'rs', 'rrl', 'rra', 'orm'];

/** The reflection words RRA counts (STILL-3 §4.2). */
export const RRA_WORDS = ['however', 'but', 'wait', 'verify', 'alternatively'] as const;

/** RRA saturates at this many reflection words (STILL-3 §4.2: min(A, 20)). */
export const RRA_CAP = 20;

const RRA_RE = new RegExp(`\\b(?:${RRA_WORDS.join('|')})\\b`, 'gi');

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * QS: keep the question when the mean length of its correct responses exceeds that of its wrong ones.
 * A group without both correct and wrong responses gives no comparison and is not kept.
 */
export function questionSelectionQS(group: Pick<ResponseInfo, 'length' | 'correct'>[]): boolean {
  const correct = group.filter((r) => r.correct).map((r) => r.length);
  const wrong = group.filter((r) => !r.correct).map((r) => r.length);
  if (correct.length === 0 || wrong.length === 0) return false;
  return mean(correct) > mean(wrong);
}

/**
 * RS: indices of [longest correct, shortest wrong] when the longest correct is longer than the shortest
 * wrong; otherwise no response of this group is trained on ([]).
 */
export function responseSelectionRS(group: Pick<ResponseInfo, 'length' | 'correct'>[]): number[] {
  let longestCorrect = -1;
  let shortestWrong = -1;
  group.forEach((r, i) => {
    if (r.correct && (longestCorrect < 0 || r.length > group[longestCorrect].length)) longestCorrect = i;
    if (!r.correct && (shortestWrong < 0 || r.length < group[shortestWrong].length)) shortestWrong = i;
  });
  if (longestCorrect < 0 || shortestWrong < 0) return [];
  return group[longestCorrect].length > group[shortestWrong].length ? [longestCorrect, shortestWrong] : [];
}

/** RRL: R = L / Lmax + Rcorr (Lmax: the generation length limit). */
export function lengthRewardRRL(length: number, maxLength: number, correctnessReward: number): number {
  if (!(maxLength > 0)) throw new Error(`RRL max length must be positive (got ${maxLength})`);
  return Math.min(length, maxLength) / maxLength + correctnessReward;
}

/** A = number of reflection words (whole words, any case). */
export function countReflectionWords(text: string): number {
  return text.match(RRA_RE)?.length ?? 0;
}

/** RRA: R = min(A, 20) / 20 + Rcorr. */
export function lengthRewardRRA(text: string, correctnessReward: number): number {
  return Math.min(countReflectionWords(text), RRA_CAP) / RRA_CAP + correctnessReward;
}

/** ORM: loss mask per response, 0 for truncated responses. */
export function overlongMaskORM(group: Pick<ResponseInfo, 'truncated'>[]): number[] {
  return group.map((r) => (r.truncated ? 0 : 1));
}
