/**
 * The habit teacher (core/data/habitTraces.ts): its traces are seeded, mix the habits at the rates asked,
 * and are judged by the project's math verifier exactly as the teacher says: the worked columns are
 * recomputed here, and the checked traces' final pass is always right.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_HABIT_RATES,
  habitText,
  habitTrace,
  parseHabitRates,
  type Habit,
} from '../../../core/data/habitTraces.ts';
import { generateTasks } from '../../../core/data/synthetic.ts';
import { countReflectionWords } from '../../../core/reward/lengthStrategies.ts';
import { verifyAnswer } from '../../../core/reward/verify/verifyAnswer.ts';

const PROBLEMS = generateTasks({ kind: 'longAddition', knobs: { digits: 3, minCarries: 1 } }, 1, 2000);
const TRACES = PROBLEMS.map((p, i) => habitTrace(p, 5, i, DEFAULT_HABIT_RATES));

/** "a+b(+1)=s" columns, least significant first, checked and read back into a number here. */
function columnsSum(columns: string[]): bigint {
  let digits = '';
  columns.forEach((c, i) => {
    const m = /^(\d)\+(\d)(?:\+(1))?=(\d+)$/.exec(c);
    assert.ok(m, `not a column: ${c}`);
    assert.equal(Number(m[1]) + Number(m[2]) + Number(m[3] ?? 0), Number(m[4]), c);
    digits = (i === columns.length - 1 ? m[4] : String(Number(m[4]) % 10)) + digits;
  });
  return BigInt(digits);
}

test('the teacher is seeded: the same (seed, index) gives the same trace, another seed other habits', () => {
  assert.deepEqual(
    PROBLEMS.map((p, i) => habitTrace(p, 5, i, DEFAULT_HABIT_RATES)),
    TRACES,
  );
  const other = PROBLEMS.map((p, i) => habitTrace(p, 6, i, DEFAULT_HABIT_RATES).habit);
  assert.notDeepEqual(
    other,
    TRACES.map((t) => t.habit),
  );
});

test('the habits and slips occur at the rates asked (within sampling error of 2,000 traces)', () => {
  const rates = DEFAULT_HABIT_RATES;
  const of = (habit: Habit) => TRACES.filter((t) => t.habit === habit);
  const near = (count: number, total: number, want: number) => {
    assert.ok(Math.abs(count / total - want) < 0.04, `${count / total} vs ${want}`);
  };
  near(of('direct').length, TRACES.length, rates.direct);
  near(of('checked').length, TRACES.length, rates.checked);
  near(of('direct').filter((t) => !t.correct).length, of('direct').length, rates.directErrorRate);
  near(of('worked').filter((t) => !t.correct).length, of('worked').length, rates.workedErrorRate);
  const none = { ...DEFAULT_HABIT_RATES, direct: 0, checked: 0, workedErrorRate: 0 };
  assert.ok(PROBLEMS.every((p, i) => habitTrace(p, 5, i, none).correct));
});

test('every trace verifies as the teacher says, and a worked answer is the sum its columns give', () => {
  const shape = /^<think>(.*)<\/think>\\boxed\{(\d+)\}$/s;
  TRACES.forEach((t, i) => {
    const p = PROBLEMS[i];
    assert.equal(verifyAnswer(p.answer, t.text).equal, t.correct, t.text);
    const [, think, boxed] = shape.exec(t.text) ?? assert.fail(`not a trace: ${t.text}`);
    // A check restates the problem's operands as the prompt ends them, then works the columns again.
    const restated = `${/\$.*\$\./.exec(p.problem)![0]}\n\n`;
    const passes = think === '' ? [] : think.split(` wait, verify: ${restated}`).map((x) => x.split(' '));
    assert.equal(passes.length, { direct: 0, worked: 1, checked: 2 }[t.habit]);
    if (passes.length > 0) assert.equal(BigInt(boxed), columnsSum(passes.at(-1)!), t.text);
    if (t.habit === 'checked') assert.equal(boxed, p.answer, 'a check always ends on the true sum');
    assert.equal(countReflectionWords(t.text) > 0, t.habit === 'checked');
  });
});

test('a slip is the carry-less sum: wrong on every sum that carries, and a check corrects it', () => {
  const p = { id: 'x', problem: 'Compute $478 + 356$.', answer: '834' };
  const text = (h: Habit, slip: boolean) => habitText(p, h, slip);
  assert.equal(text('direct', true), '<think></think>\\boxed{724}');
  assert.equal(text('direct', false), '<think></think>\\boxed{834}');
  assert.equal(text('worked', true), '<think>8+6=14 7+5=12 4+3=7</think>\\boxed{724}');
  assert.equal(text('worked', false), '<think>8+6=14 7+5+1=13 4+3+1=8</think>\\boxed{834}');
  assert.equal(
    text('checked', true),
    '<think>8+6=14 7+5=12 4+3=7 wait, verify: $478 + 356$.\n\n8+6=14 7+5+1=13 4+3+1=8</think>\\boxed{834}',
  );
  // Longer reasoning: direct < worked < checked, in characters (and so in the tiny tokenizer's tokens).
  assert.ok(text('direct', false).length < text('worked', false).length);
  assert.ok(text('worked', false).length < text('checked', false).length);
});

test('bad rates and problems that are not sums are refused naming what is wrong', () => {
  const p = PROBLEMS[0];
  assert.throws(() => habitTrace(p, 1, 0, { ...DEFAULT_HABIT_RATES, direct: 0.9 }), /direct \+ checked/);
  assert.throws(() => habitTrace(p, 1, 0, { ...DEFAULT_HABIT_RATES, workedErrorRate: 2 }), /workedErrorRate/);
  const product = { id: 'y', problem: 'Compute $12 \\times 34$.', answer: '408' };
  assert.throws(() => habitText(product, 'worked', false), /sum of two non-negative numbers/);
});

test('parseHabitRates: name=value pairs replace the base rates, the rest stay', () => {
  assert.deepEqual(parseHabitRates('directErrorRate=1, checked=0.2'), {
    ...DEFAULT_HABIT_RATES,
    directErrorRate: 1,
    checked: 0.2,
  });
  assert.deepEqual(parseHabitRates(''), DEFAULT_HABIT_RATES);
});

test('parseHabitRates: unknown names, bad values and impossible mixes are refused', () => {
  assert.throws(() => parseHabitRates('direkt=0.3'), /unknown habit rate "direkt"/);
  assert.throws(() => parseHabitRates('direct'), /must be name=value/);
  assert.throws(() => parseHabitRates('direct=abc'), /direct must be a number/);
  assert.throws(() => parseHabitRates('direct=1.5'), /direct must be in \[0, 1\]/);
  assert.throws(() => parseHabitRates('direct=0.6,checked=0.6'), /at most 1/);
});
