/**
 * maj@k (self-consistency, Wang et al. 2023): the answer most of a problem's first k samples give, scored
 * by whether it is correct. Votes are answer strings as extracted from the responses (equal strings are
 * one answer; "1/2" and "0.5" are two); a sample with no answer does not vote. A tie between answers
 * scores the expected correctness of picking one of them at random — the fraction of tied answers that
 * are correct — so the result does not depend on sample order. No answer at all scores 0.
 */
export interface Vote {
  /** The extracted answer; undefined or '' when the response gave none. */
  answer?: string;
  correct: boolean;
}

export function majorityAtK(votes: readonly Vote[], k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > votes.length) {
    throw new RangeError(`majorityAtK: k must be an integer in [1, ${votes.length}] (got ${k})`);
  }
  const tally = new Map<string, { count: number; correct: boolean }>();
  for (const v of votes.slice(0, k)) {
    if (!v.answer) continue;
    const entry = tally.get(v.answer);
    // Equal answers are equally correct; should a verifier disagree with itself, any correct copy counts.
    if (entry) {
      entry.count++;
      entry.correct ||= v.correct;
    } else tally.set(v.answer, { count: 1, correct: v.correct });
  }
  let best = 0;
  for (const { count } of tally.values()) best = Math.max(best, count);
  if (best === 0) return 0;
  const top = [...tally.values()].filter((e) => e.count === best);
  return top.filter((e) => e.correct).length / top.length;
}
