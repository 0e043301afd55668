/** The habit classifier of the length experiment (demo/lengthHabits.ts), on the teacher's own traces. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_HABIT_RATES, habitText, habitTrace } from '../../../core/data/habitTraces.ts';
import { generateTasks } from '../../../core/data/synthetic.ts';
import { habitMix, responseHabit } from '../../../demo/lengthHabits.ts';

const problems = generateTasks({ kind: 'longAddition', knobs: { digits: 3, minCarries: 1 } }, 2, 300);

test('every teacher trace is classified as the habit it was written with', () => {
  problems.forEach((p, i) => {
    const t = habitTrace(p, 9, i, DEFAULT_HABIT_RATES);
    assert.equal(responseHabit(t.text), t.habit, t.text);
  });
});

test('responses off the teacher\'s shapes are "other"; the mix counts shares and reflection words', () => {
  const p = problems[0];
  const texts = [
    habitText(p, 'direct', false),
    habitText(p, 'worked', true),
    habitText(p, 'checked', true),
    '<think>1+2=3 but 4',
    'the answer is 5',
  ];
  assert.deepEqual(texts.map(responseHabit), ['direct', 'worked', 'checked', 'other', 'other']);
  const mix = habitMix(texts);
  assert.deepEqual(
    { ...mix },
    { responses: 5, direct: 0.2, worked: 0.2, checked: 0.2, other: 0.4, reflectionRate: 0.4 },
  );
  assert.equal(habitMix([]).reflectionRate, 0);
});
