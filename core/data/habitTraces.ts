/**
 * The habit teacher of the long-addition task: its SFT traces mix three ways of answering a sum, so that
 * response length is the policy's choice and a verifying reward has a reason to lengthen it.
 * - direct: `<think></think>\boxed{s}` — the answer at once, and often the carry-less sum (a slip of
 *   mental arithmetic); a tiny model cannot carry in its head either, so its own direct answers are poor;
 * - worked: the columns least significant first with their carries (core/data/traces.ts), sometimes with
 *   every carry forgotten, then the sum the columns give;
 * - checked: a worked pass (as careless as a worked trace), then "wait, verify:", the operands restated and
 *   a careful second pass whose sum is the answer — the check catches the slip, and the reflection words
 *   RRA counts occur. The operands are restated as the prompt ends ("$a + b$.\n", then one token as
 *   `<think>` is one), so the second pass reads its digits at the distances the first pass reads the
 *   prompt's: without them a tiny model's second pass misread the digits and its checks were wrong more
 *   often than its unchecked work.
 * The habit and the slip of training problem i are draws of (seed, i): every worker and retry agree.
 */
import { RNG_STREAM, uniformAt } from '../random.ts';
import type { SyntheticProblem } from './synthetic.ts';
import { arithmeticOperands, columnAddition, THINK_CLOSE, THINK_OPEN } from './traces.ts';

export type Habit = 'direct' | 'worked' | 'checked';

export interface HabitRates {
  /** Fractions of all traces that answer at once and that check; the rest are worked. */
  direct: number;
  checked: number;
  /** Fraction of direct answers that are the carry-less sum. */
  directErrorRate: number;
  /** Fraction of worked passes (worked traces, and the first pass of checked ones) that forget every carry. */
  workedErrorRate: number;
}

/**
 * The teacher's natural rates: three answers in ten direct, half of those wrong; one in seven checked; the
 * rest worked, a fifth of those passes careless. Its traces are right 74% of the time: the direct ones 50%,
 * the worked 80%, the checked always. (With half its answers direct, a tiny model fine-tuned for the
 * demo's 300 steps saw too few columns to learn them: its worked answers were no better than its direct
 * ones, and RL shortened its responses.)
 */
export const DEFAULT_HABIT_RATES: HabitRates = {
  direct: 0.3,
  checked: 0.15,
  directErrorRate: 0.5,
  workedErrorRate: 0.2,
};

/** What the teacher writes for one problem, and whether its boxed answer is the true sum. */
export interface HabitTrace {
  habit: Habit;
  text: string;
  correct: boolean;
}

/** Draw `which` (0: habit, 1: slip) of training problem `index`: counter-based, so no draw depends on another. */
function teacherDraw(seed: number, index: number, which: number): number {
  return uniformAt(seed >>> 0, 0, index, which, 0, RNG_STREAM.teacher);
}

export function checkHabitRates(r: HabitRates): void {
  const inUnit = (x: number) => x >= 0 && x <= 1;
  for (const [name, x] of Object.entries(r)) {
    if (!inUnit(x)) throw new Error(`habit rate ${name} must be in [0, 1] (got ${x})`);
  }
  if (r.direct + r.checked > 1) {
    throw new Error(`habit rates direct + checked must be at most 1 (got ${r.direct + r.checked})`);
  }
}

/** The two operands of a sum as longAdditionTask (or arithmeticTask) states it. */
function sumOperands(p: SyntheticProblem): [bigint, bigint] {
  const { values, ops } = arithmeticOperands(p.problem);
  if (values.length !== 2 || ops[0] !== '+' || values.some((v) => v < 0n)) {
    throw new Error(`habit traces need a sum of two non-negative numbers (got ${JSON.stringify(p.problem)})`);
  }
  return [values[0], values[1]];
}

/** The trace of one habit with its slip decided: `slip` drops every carry of the (first) worked pass. */
export function habitText(p: SyntheticProblem, habit: Habit, slip: boolean): string {
  const [a, b] = sumOperands(p);
  const pass = columnAddition(a, b, slip);
  if (habit === 'direct') return `${THINK_OPEN}${THINK_CLOSE}\\boxed{${pass.sum}}`;
  if (habit === 'worked') return `${THINK_OPEN}${pass.steps.join(' ')}${THINK_CLOSE}\\boxed{${pass.sum}}`;
  const check = columnAddition(a, b);
  return (
    `${THINK_OPEN}${pass.steps.join(' ')} wait, verify: $${a} + ${b}$.\n\n${check.steps.join(' ')}${THINK_CLOSE}` +
    `\\boxed{${check.sum}}`
  );
}

/** The teacher's trace of training problem `index` (no end-of-sequence token: the caller appends it). */
export function habitTrace(p: SyntheticProblem, seed: number, index: number, rates: HabitRates): HabitTrace {
  checkHabitRates(rates);
  const [u, v] = [teacherDraw(seed, index, 0), teacherDraw(seed, index, 1)];
  const habit: Habit = u < rates.direct ? 'direct' : u < rates.direct + rates.checked ? 'checked' : 'worked';
  const slip = v < (habit === 'direct' ? rates.directErrorRate : rates.workedErrorRate);
  const text = habitText(p, habit, slip);
  const sum = /\\boxed\{(\d+)\}$/.exec(text)![1];
  return { habit, text, correct: sum === p.answer };
}

/**
 * Habit rates from `name=value` pairs separated by commas (e.g. "direct=0.3,directErrorRate=1"), each
 * replacing that rate of `base`: how a command line states a teacher. Unknown names and bad values fail.
 */
export function parseHabitRates(text: string, base: HabitRates = DEFAULT_HABIT_RATES): HabitRates {
  const rates: HabitRates = { ...base };
  for (const pair of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(\w+)=(.+)$/.exec(pair);
    if (!m) throw new Error(`habit rate "${pair}" must be name=value`);
    const [, name, value] = m;
    if (!(name in base)) {
      throw new Error(`unknown habit rate "${name}" (one of ${Object.keys(base).join(', ')})`);
    }
    const x = Number(value);
    if (value.trim() === '' || !Number.isFinite(x))
      throw new Error(`habit rate ${name} must be a number (got ${value})`);
    rates[name as keyof HabitRates] = x;
  }
  checkHabitRates(rates);
  return rates;
}
