/**
 * What a policy's responses on the long-addition task do, in the habit teacher's terms
 * (core/data/habitTraces.ts): the share that answer directly, work the columns, or check their work, and
 * the reflection-word rate (responses with at least one of the words RRA counts). The length experiment
 * prints these beside accuracy and length, so a change in length can be read as a change of habit.
 */
import type { Habit } from '../core/data/habitTraces.ts';
import { countReflectionWords } from '../core/reward/lengthStrategies.ts';

/** A response that follows none of the teacher's shapes (cut off, garbled, no `</think>`). */
export type ResponseHabit = Habit | 'other';

export interface HabitMix {
  responses: number;
  direct: number;
  worked: number;
  checked: number;
  other: number;
  /** Fraction of responses with at least one reflection word. */
  reflectionRate: number;
}

/**
 * The habit a response follows: nothing between `<think>` and `</think>` is direct; a `verify:` inside
 * the reasoning is a check; any other reasoning is worked.
 */
export function responseHabit(text: string): ResponseHabit {
  const m = /^<think>(.*)<\/think>\\boxed\{[^}]*\}$/s.exec(text.trim());
  if (!m) return 'other';
  if (m[1].trim() === '') return 'direct';
  return /\bverify\b/i.test(m[1]) ? 'checked' : 'worked';
}

/** The share of each habit and the reflection-word rate over `texts` (all 0 for none). */
export function habitMix(texts: readonly string[]): HabitMix {
  const counts: Record<ResponseHabit, number> = { direct: 0, worked: 0, checked: 0, other: 0 };
  let reflecting = 0;
  for (const text of texts) {
    counts[responseHabit(text)]++;
    if (countReflectionWords(text) > 0) reflecting++;
  }
  const share = (n: number) => (texts.length ? n / texts.length : 0);
  return {
    responses: texts.length,
    direct: share(counts.direct),
    worked: share(counts.worked),
    checked: share(counts.checked),
    other: share(counts.other),
    reflectionRate: share(reflecting),
  };
}
