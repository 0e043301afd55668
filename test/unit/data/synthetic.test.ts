import assert from 'node:assert/strict';
import { test } from 'node:test';
import { arithmeticTask, countdownTask, generateTasks, linearTask } from '../../../core/data/synthetic.ts';
import { verifyCountdown } from '../../../core/reward/countdown.ts';
import { verifyAnswer } from '../../../core/reward/verify/verifyAnswer.ts';

test('tasks depend only on (seed, index): any slice regenerates identically', () => {
  const spec = {
    kind: 'arithmetic' as const,
    knobs: { digits: 3, terms: 3, ops: ['+', '-', '*'] as ('+' | '-' | '*')[] },
  };
  const all = generateTasks(spec, 5, 10);
  assert.deepEqual(generateTasks(spec, 5, 4, 6), all.slice(6));
  assert.notDeepEqual(generateTasks(spec, 6, 10), all);
});

test('arithmetic answers are exact (checked by evaluating the expression independently)', () => {
  for (let i = 0; i < 50; i++) {
    const t = arithmeticTask(1, i, { digits: 4, terms: 4, ops: ['+', '-', '*'] });
    const expr = /\$(.*)\$/.exec(t.problem)![1].replace(/\\times/g, '*');
    // BigInt evaluation with standard precedence, via the Function constructor on digits and operators only
    assert.match(expr, /^[\d\s+\-*]+$/);
    const value = Function(`return (${expr.replace(/(\d+)/g, '$1n')}).toString()`)() as string;
    assert.equal(t.answer, value, t.problem);
    assert.ok(verifyAnswer(t.answer, `\\boxed{${value}}`).equal);
  }
  const big = arithmeticTask(2, 0, { digits: 12, terms: 8, ops: ['*'] });
  assert.ok(big.answer.length > 80); // far past 2^53: exact
});

test('linear equations: the answer solves the equation (substituted back)', () => {
  for (const fractional of [false, true]) {
    for (let i = 0; i < 40; i++) {
      const t = linearTask(3, i, { maxCoefficient: 9, maxSolution: 20, fractional });
      const [lhs, rhs] = /\$([^$]*)\$\.$/.exec(t.problem)![1].split('=');
      const frac = /^(-?)\\frac\{(-?\d+)\}\{(\d+)\}$/.exec(t.answer);
      const x = frac ? (frac[1] ? -1 : 1) * (Number(frac[2]) / Number(frac[3])) : Number(t.answer);
      const side = (s: string) =>
        Function('x', `return ${s.replace(/(\d)x/g, '$1*x').replace(/^\s*-x/, '-1*x')}`)(x) as number;
      assert.ok(Math.abs(side(lhs) - side(rhs)) < 1e-9, `${t.problem} x=${t.answer}`);
      assert.ok(verifyAnswer(t.answer, `\\boxed{${t.answer}}`).equal);
    }
  }
});

test('countdown: the stored solution passes, misuse of numbers fails', () => {
  for (let i = 0; i < 40; i++) {
    const t = countdownTask(4, i, { count: 4, maxNumber: 25 });
    const { numbers, target } = t.countdown!;
    assert.ok(verifyCountdown(numbers, target, t.answer).equal, `${t.answer} = ${target} from ${numbers}`);
  }
  assert.deepEqual(verifyCountdown([3, 5, 7], 22, '3*5+7'), { equal: true, reason: 'reaches the target' });
  assert.equal(verifyCountdown([3, 5, 7], 22, '(7 + 5) * 3 / 2 - 1 = 22').equal, false);
  assert.match(verifyCountdown([3, 5], 15, '3*5*5').reason, /number 5 is not available/);
  assert.match(verifyCountdown([3, 5], 15, '3*x').reason, /only numbers/);
  assert.match(verifyCountdown([3, 0], 15, '3/0').reason, /division by zero/);
  assert.equal(verifyCountdown([6, 4, 2], 3, '6 / (4 - 2)').equal, true);
  assert.equal(verifyCountdown([1], 1, '((((1').equal, false);
});

test('difficulty knobs are validated', () => {
  assert.throws(
    () => arithmeticTask(0, 0, { digits: 0, terms: 2, ops: ['+'] }),
    /digits must be 1–12 \(got 0\)/,
  );
  assert.throws(() => countdownTask(0, 0, { count: 9, maxNumber: 10 }), /count must be 2–6 \(got 9\)/);
});
