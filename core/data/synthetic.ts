/**
 * Synthetic verifiable tasks for CPU-scale runs, each with difficulty knobs: multi-digit arithmetic,
 * long additions with carries, linear equations, and Countdown (reach a target with given numbers). Task i depends only on
 * (seed, i), so any slice can be regenerated. Arithmetic and linear answers are checked by the math
 * verifier; Countdown answers by core/reward's `verifyCountdown`, which also checks the numbers used.
 */
import { mulberry32 } from '../random.ts';
import type { Problem } from './problems.ts';

export interface ArithmeticKnobs {
  /** Digits per operand (1–12). */
  digits: number;
  /** Operands in the expression (2–8). */
  terms: number;
  /** Operators to draw from. */
  ops: ('+' | '-' | '*')[];
}

export interface LongAdditionKnobs {
  /** Digits of each of the two operands (2–12). */
  digits: number;
  /** Fewest carries into a next column (0 – digits−1): with ≥ 1, an answer that drops them is wrong. */
  minCarries: number;
}

export interface LinearKnobs {
  /** Largest absolute coefficient (≥ 1). */
  maxCoefficient: number;
  /** Largest absolute solution. */
  maxSolution: number;
  /** Allow fractional solutions (p/q) instead of integers only. */
  fractional: boolean;
}

export interface CountdownKnobs {
  /** How many numbers are given (2–6). */
  count: number;
  /** Largest given number. */
  maxNumber: number;
}

export type SyntheticSpec =
  | { kind: 'arithmetic'; knobs: ArithmeticKnobs }
  | { kind: 'longAddition'; knobs: LongAdditionKnobs }
  | { kind: 'linear'; knobs: LinearKnobs }
  | { kind: 'countdown'; knobs: CountdownKnobs };

export interface SyntheticProblem extends Problem {
  /** For Countdown: the numbers and target the answer must use and reach. */
  countdown?: { numbers: number[]; target: number };
}

/** mulberry32 seeded per task from (seed, index), so tasks are independent of how many are generated. */
function taskRng(seed: number, index: number): () => number {
  return mulberry32(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
}

function randInt(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function arithmeticTask(seed: number, index: number, k: ArithmeticKnobs): SyntheticProblem {
  if (k.digits < 1 || k.digits > 12) throw new Error(`arithmetic digits must be 1–12 (got ${k.digits})`);
  if (k.terms < 2 || k.terms > 8) throw new Error(`arithmetic terms must be 2–8 (got ${k.terms})`);
  const rng = taskRng(seed, index);
  const operand = () => BigInt(randInt(rng, 10 ** (k.digits - 1), 10 ** k.digits - 1));
  const values = [operand()];
  const ops: string[] = [];
  for (let i = 1; i < k.terms; i++) {
    ops.push(k.ops[randInt(rng, 0, k.ops.length - 1)]);
    values.push(operand());
  }
  // Standard precedence: fold products first, then sums (BigInt: exact at any size).
  const terms: bigint[] = [values[0]];
  const signs: number[] = [1];
  for (let i = 0; i < ops.length; i++) {
    if (ops[i] === '*') terms[terms.length - 1] *= values[i + 1];
    else {
      terms.push(values[i + 1]);
      signs.push(ops[i] === '-' ? -1 : 1);
    }
  }
  const answer = terms.reduce((acc, t, i) => acc + (signs[i] < 0 ? -t : t), 0n);
  const expr = values
    .map((v, i) => (i === 0 ? `${v}` : ` ${ops[i - 1] === '*' ? '\\times' : ops[i - 1]} ${v}`))
    .join('');
  return { id: `arithmetic:${seed}:${index}`, problem: `Compute $${expr}$.`, answer: answer.toString() };
}

/**
 * Carries of a + b into a next column (the top column's carry-out is written, not carried): what an
 * answer worked without carries loses, so with at least one the carry-less sum is wrong.
 */
export function carryCount(a: bigint, b: bigint): number {
  let [x, y, carry, count] = [a, b, 0n, 0];
  while (x >= 10n || y >= 10n) {
    carry = (x % 10n) + (y % 10n) + carry >= 10n ? 1n : 0n;
    count += Number(carry);
    [x, y] = [x / 10n, y / 10n];
  }
  return count;
}

/** Attempts per long addition before giving up on `minCarries` (impossible knobs fail loudly). */
const LONG_ADDITION_ATTEMPTS = 1000;

/**
 * A sum of two `digits`-digit numbers with at least `minCarries` carrying columns, stated as arithmeticTask
 * states sums ("Compute $a + b$."), so the traces and the verifier read it unchanged. Worked column by
 * column a tiny model gets it right; written at once it must carry in its head, which it rarely learns.
 */
export function longAdditionTask(seed: number, index: number, k: LongAdditionKnobs): SyntheticProblem {
  if (k.digits < 2 || k.digits > 12) throw new Error(`longAddition digits must be 2–12 (got ${k.digits})`);
  if (k.minCarries < 0 || k.minCarries > k.digits - 1) {
    throw new Error(`longAddition minCarries must be 0–digits−1 (${k.digits - 1}) (got ${k.minCarries})`);
  }
  const rng = taskRng(seed, index);
  const operand = () => BigInt(randInt(rng, 10 ** (k.digits - 1), 10 ** k.digits - 1));
  for (let attempt = 0; attempt < LONG_ADDITION_ATTEMPTS; attempt++) {
    const [a, b] = [operand(), operand()];
    if (carryCount(a, b) < k.minCarries) continue;
    return {
      id: `longAddition:${seed}:${index}`,
      problem: `Compute $${a} + ${b}$.`,
      answer: (a + b).toString(),
    };
  }
  throw new Error(`longAddition: no sum of ${k.digits}-digit numbers with ${k.minCarries} carries found`);
}

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}

export function linearTask(seed: number, index: number, k: LinearKnobs): SyntheticProblem {
  if (k.maxCoefficient < 1) throw new Error(`linear maxCoefficient must be ≥ 1 (got ${k.maxCoefficient})`);
  const rng = taskRng(seed, index);
  const nonzero = () => {
    const v = randInt(rng, 1, k.maxCoefficient);
    return rng() < 0.5 ? -v : v;
  };
  const a = nonzero();
  const c = nonzero();
  const coefA = a === c ? a + 1 : a; // a ≠ c keeps one solution
  const b = randInt(rng, -k.maxSolution, k.maxSolution);
  let d: number;
  let answer: string;
  if (k.fractional) {
    d = randInt(rng, -k.maxSolution * 3, k.maxSolution * 3);
    const num = d - b;
    const den = coefA - c;
    const g = gcd(num, den) || 1;
    const [p, q] = den / g < 0 ? [-num / g, -den / g] : [num / g, den / g];
    answer = q === 1 ? `${p}` : `\\frac{${p}}{${q}}`.replace('\\frac{-', '-\\frac{');
  } else {
    const x = randInt(rng, -k.maxSolution, k.maxSolution);
    d = (coefA - c) * x + b;
    answer = `${x}`;
  }
  const side = (coef: number, konst: number) =>
    `${coef === 1 ? '' : coef === -1 ? '-' : coef}x ${konst < 0 ? '-' : '+'} ${Math.abs(konst)}`;
  return {
    id: `linear:${seed}:${index}`,
    problem: `Solve for $x$: $${side(coefA, b)} = ${side(c, d)}$.`,
    answer,
  };
}

export function countdownTask(seed: number, index: number, k: CountdownKnobs): SyntheticProblem {
  if (k.count < 2 || k.count > 6) throw new Error(`countdown count must be 2–6 (got ${k.count})`);
  const rng = taskRng(seed, index);
  const numbers = Array.from({ length: k.count }, () => randInt(rng, 1, k.maxNumber));
  // Build a target from the numbers with + − × (never division: the target stays an integer) in a random order.
  const order = [...numbers];
  for (let i = order.length - 1; i > 0; i--) {
    const j = randInt(rng, 0, i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  let target = order[0];
  let expr = `${order[0]}`;
  for (let i = 1; i < order.length; i++) {
    const op = randInt(rng, 0, 2);
    if (op === 0) [target, expr] = [target + order[i], `${expr} + ${order[i]}`];
    else if (op === 1 && target - order[i] > 0) [target, expr] = [target - order[i], `${expr} - ${order[i]}`];
    else [target, expr] = [target * order[i], `(${expr}) * ${order[i]}`];
  }
  return {
    id: `countdown:${seed}:${index}`,
    problem:
      `Using the numbers [${numbers.join(', ')}], create an equation that equals ${target}. ` +
      'You can use basic arithmetic operations (+, -, *, /) and each number can only be used once.',
    answer: expr,
    countdown: { numbers, target },
  };
}

export function generateTasks(
  spec: SyntheticSpec,
  seed: number,
  count: number,
  start = 0,
): SyntheticProblem[] {
  const out: SyntheticProblem[] = [];
  for (let i = start; i < start + count; i++) {
    if (spec.kind === 'arithmetic') out.push(arithmeticTask(seed, i, spec.knobs));
    else if (spec.kind === 'longAddition') out.push(longAdditionTask(seed, i, spec.knobs));
    else if (spec.kind === 'linear') out.push(linearTask(seed, i, spec.knobs));
    else out.push(countdownTask(seed, i, spec.knobs));
  }
  return out;
}
