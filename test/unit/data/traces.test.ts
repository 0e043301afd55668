/**
 * Worked solutions of synthetic arithmetic (core/data/traces.ts), checked against BigInt arithmetic, JS's
 * own operator precedence and the project's math verifier.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateTasks, type SyntheticProblem } from '../../../core/data/synthetic.ts';
import {
  arithmeticOperands,
  arithmeticTrace,
  carelessTeacher,
  columnAddition,
  operationSteps,
} from '../../../core/data/traces.ts';
import { verifyAnswer } from '../../../core/reward/verify/verifyAnswer.ts';

/** A small seeded PRNG (mulberry32) of the test's own, so the cases do not come from the code under test. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomOperand(next: () => number): bigint {
  const digits = 1 + Math.floor(next() * 6);
  const lo = digits === 1 ? 0 : 10 ** (digits - 1);
  return BigInt(lo + Math.floor(next() * (10 ** digits - lo)));
}

const TRACE = /^<think>(.*)<\/think>\\boxed\{(-?\d+)\}$/;

function parseTrace(trace: string): { steps: string[]; answer: string } {
  const m = TRACE.exec(trace);
  assert.ok(m, `not a trace: ${trace}`);
  return { steps: m[1].split(' '), answer: m[2] };
}

function digitsOf(v: bigint): number[] {
  return v.toString().split('').reverse().map(Number);
}

/** The sum with every carry dropped, worked out here digit by digit. */
function sumWithoutCarries(a: bigint, b: bigint): bigint {
  const da = digitsOf(a);
  const db = digitsOf(b);
  const columns = Math.max(da.length, db.length);
  let total = 0n;
  for (let i = 0; i < columns; i++) {
    const s = (da[i] ?? 0) + (db[i] ?? 0);
    total += BigInt(i === columns - 1 ? s : s % 10) * 10n ** BigInt(i);
  }
  return total;
}

function overflowsBeforeLastColumn(a: bigint, b: bigint): boolean {
  const da = digitsOf(a);
  const db = digitsOf(b);
  const columns = Math.max(da.length, db.length);
  for (let i = 0; i < columns - 1; i++) if ((da[i] ?? 0) + (db[i] ?? 0) >= 10) return true;
  return false;
}

function additionProblem(a: bigint, b: bigint): SyntheticProblem {
  return { id: `t:${a}+${b}`, problem: `Compute $${a} + ${b}$.`, answer: String(a + b) };
}

/** The expression evaluated by JS itself (BigInt literals, JS precedence): independent of the code under test. */
function evaluateWithJs(problem: string): bigint {
  const expr = /^Compute \$(.+)\$\.$/
    .exec(problem)![1]
    .replace(/\\times/g, '*')
    .replace(/(\d+)/g, '$1n');
  return (new Function(`return ${expr};`) as () => bigint)();
}

const STEP = /^(-?\d+)([-+*])(-?\d+)=(-?\d+)$/;

describe('columnAddition / arithmeticTrace for sums of two numbers', () => {
  it('every column step is right, carries follow the previous column, and the boxed answer verifies', () => {
    const next = rng(1);
    for (let n = 0; n < 500; n++) {
      const a = randomOperand(next);
      const b = randomOperand(next);
      const p = additionProblem(a, b);
      const { steps, answer } = parseTrace(arithmeticTrace(p));
      const da = digitsOf(a);
      const db = digitsOf(b);
      assert.equal(steps.length, Math.max(da.length, db.length), p.problem);
      let carry = 0;
      steps.forEach((step, i) => {
        const [lhs, rhs] = step.split('=');
        const terms = lhs.split('+').map(Number);
        assert.deepEqual(
          terms,
          [da[i] ?? 0, db[i] ?? 0, ...(carry ? [carry] : [])],
          `${p.problem} step ${i}`,
        );
        assert.equal(
          Number(rhs),
          terms.reduce((x, y) => x + y, 0),
          `${p.problem} step ${step}`,
        );
        carry = Number(rhs) >= 10 ? 1 : 0;
      });
      assert.equal(BigInt(answer), a + b, p.problem);
      assert.ok(verifyAnswer(p.answer, arithmeticTrace(p)).equal, p.problem);
    }
  });

  it('forgetting carries is wrong exactly when a column before the last overflows', () => {
    const next = rng(2);
    let wrong = 0;
    for (let n = 0; n < 500; n++) {
      const a = randomOperand(next);
      const b = randomOperand(next);
      const p = additionProblem(a, b);
      const trace = arithmeticTrace(p, { forgetCarry: true });
      const { steps, answer } = parseTrace(trace);
      for (const step of steps) {
        const [lhs, rhs] = step.split('=');
        assert.equal(lhs.split('+').length, 2, `${p.problem}: a carry in ${step}`);
        assert.equal(
          Number(rhs),
          lhs
            .split('+')
            .map(Number)
            .reduce((x, y) => x + y, 0),
          step,
        );
      }
      assert.equal(BigInt(answer), sumWithoutCarries(a, b), p.problem);
      const overflow = overflowsBeforeLastColumn(a, b);
      assert.equal(BigInt(answer) !== a + b, overflow, p.problem);
      assert.equal(verifyAnswer(p.answer, trace).equal, !overflow, p.problem);
      if (overflow) wrong++;
    }
    assert.ok(
      wrong > 100 && wrong < 450,
      `careless sums wrong ${wrong}/500: the cases do not exercise both ways`,
    );
  });

  it('columnAddition returns the same steps as the trace', () => {
    const { steps, sum } = columnAddition(987n, 45n);
    assert.deepEqual(steps, ['7+5=12', '8+4+1=13', '9+0+1=10']);
    assert.equal(sum, '1032');
  });
});

describe('operationSteps / arithmeticTrace for mixed expressions', () => {
  it('one operation per step, each right, ending at the value JS computes', () => {
    let checked = 0;
    for (const digits of [1, 2, 3]) {
      for (const terms of [2, 3, 5, 8]) {
        const spec = {
          kind: 'arithmetic' as const,
          knobs: { digits, terms, ops: ['+', '-', '*'] as ('+' | '-' | '*')[] },
        };
        for (const p of generateTasks(spec, 11 * digits + terms, 40)) {
          const expected = evaluateWithJs(p.problem);
          assert.equal(p.answer, String(expected), p.problem);
          const { values, ops } = arithmeticOperands(p.problem);
          assert.equal(values.length, terms);
          const steps = operationSteps(values, ops);
          assert.equal(steps.length, ops.length, p.problem);
          for (const step of steps) {
            const m = STEP.exec(step);
            assert.ok(m, `${p.problem}: step ${step}`);
            const [x, y, z] = [BigInt(m[1]), BigInt(m[3]), BigInt(m[4])];
            assert.equal(m[2] === '*' ? x * y : m[2] === '-' ? x - y : x + y, z, `${p.problem}: ${step}`);
          }
          assert.equal(BigInt(STEP.exec(steps[steps.length - 1])![4]), expected, p.problem);
          const trace = arithmeticTrace(p);
          assert.equal(BigInt(parseTrace(trace).answer), expected, p.problem);
          assert.ok(verifyAnswer(p.answer, trace).equal, p.problem);
          checked++;
        }
      }
    }
    assert.equal(checked, 480);
  });

  it('products come first', () => {
    assert.deepEqual(operationSteps([2n, 3n, 4n, 5n], ['+', '*', '-']), ['3*4=12', '2+12=14', '14-5=9']);
  });

  it('rejects text that is not an arithmetic problem', () => {
    assert.throws(() => arithmeticOperands('Solve for $x$: $2x + 1 = 3$.'), /not an arithmetic problem/);
  });
});

describe('carelessTeacher', () => {
  const INDICES = 10_000;
  const rateOver = (seed: number, rate: number) => {
    let n = 0;
    for (let i = 0; i < INDICES; i++) if (carelessTeacher(seed, i, rate)) n++;
    return n / INDICES;
  };

  it('is careless on about the configured fraction of problems', () => {
    for (const rate of [0.05, 0.3, 0.5, 0.9]) {
      for (const seed of [0, 1, 12345]) {
        const got = rateOver(seed, rate);
        assert.ok(Math.abs(got - rate) <= 0.02, `seed ${seed} rate ${rate}: got ${got}`);
      }
    }
  });

  it('never at rate 0, always at rate 1, and the same answer every time', () => {
    assert.equal(rateOver(3, 0), 0);
    assert.equal(rateOver(3, 1), 1);
    for (let i = 0; i < 1000; i++) assert.equal(carelessTeacher(9, i, 0.4), carelessTeacher(9, i, 0.4));
    // Different seeds pick different problems.
    const picks = (seed: number) => Array.from({ length: 200 }, (_, i) => carelessTeacher(seed, i, 0.5));
    assert.notDeepEqual(picks(1), picks(2));
  });
});
