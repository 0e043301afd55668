/**
 * Worked solutions for synthetic arithmetic, the "reasoning traces" a tiny model is fine-tuned on before
 * RL: `<think>` steps `</think>` then the answer in `\boxed{}`, the shape R1-like models answer in. Sums of
 * two non-negative numbers are worked column by column with carries (each step needs only two digits and a
 * carry, which a small model can learn); other expressions are worked one operation at a time, products
 * first.
 */
import { formatOutputBlock, PYTHON_FENCE, PYTHON_STOP } from '../tools/protocol.ts';
import type { SyntheticProblem } from './synthetic.ts';

export const THINK_OPEN = '<think>';
export const THINK_CLOSE = '</think>';

/** Parses "Compute $a op b op …$." as written by arithmeticTask. */
export function arithmeticOperands(problem: string): { values: bigint[]; ops: string[] } {
  const m = /^Compute \$(.+)\$\.$/.exec(problem);
  if (!m) throw new Error(`not an arithmetic problem: ${JSON.stringify(problem)}`);
  const parts = m[1].replace(/\\times/g, '*').split(' ');
  const values: bigint[] = [];
  const ops: string[] = [];
  parts.forEach((part, i) => (i % 2 === 0 ? values.push(BigInt(part)) : ops.push(part)));
  return { values, ops };
}

/**
 * Column addition, least significant digit first: "7+8=15 4+3+1=8", and the sum the columns give.
 * `forgetCarry` works it as a careless student would — every carry dropped — so the steps are consistent
 * but the sum is wrong whenever a column overflows.
 */
export function columnAddition(a: bigint, b: bigint, forgetCarry = false): { steps: string[]; sum: string } {
  const da = a.toString().split('').reverse().map(Number);
  const db = b.toString().split('').reverse().map(Number);
  const steps: string[] = [];
  const digits: string[] = [];
  let carry = 0;
  const columns = Math.max(da.length, db.length);
  for (let i = 0; i < columns; i++) {
    const terms = [da[i] ?? 0, db[i] ?? 0, ...(carry ? [carry] : [])];
    const sum = terms.reduce((x, y) => x + y, 0);
    steps.push(`${terms.join('+')}=${sum}`);
    // The last column writes its whole sum; the others their units digit.
    digits.unshift(i === columns - 1 ? String(sum) : String(sum % 10));
    carry = !forgetCarry && sum >= 10 ? 1 : 0;
  }
  return { steps, sum: String(BigInt(digits.join(''))) };
}

export function columnAdditionSteps(a: bigint, b: bigint): string[] {
  return columnAddition(a, b).steps;
}

/** One operation per step, products first, then sums and differences left to right. */
export function operationSteps(values: bigint[], ops: string[]): string[] {
  const steps: string[] = [];
  const terms: bigint[] = [values[0]];
  const signs: string[] = [];
  ops.forEach((op, i) => {
    if (op === '*') {
      const left = terms[terms.length - 1];
      terms[terms.length - 1] = left * values[i + 1];
      steps.push(`${left}*${values[i + 1]}=${terms[terms.length - 1]}`);
    } else {
      signs.push(op);
      terms.push(values[i + 1]);
    }
  });
  let acc = terms[0];
  signs.forEach((sign, i) => {
    const next = sign === '-' ? acc - terms[i + 1] : acc + terms[i + 1];
    steps.push(`${acc}${sign}${terms[i + 1]}=${next}`);
    acc = next;
  });
  return steps;
}

/**
 * The full response text for an arithmetic problem (no end-of-sequence token: the caller appends it).
 * `forgetCarry` (sums of two numbers only) gives the careless student's consistent but wrong solution.
 */
export function arithmeticTrace(p: SyntheticProblem, options: { forgetCarry?: boolean } = {}): string {
  const { values, ops } = arithmeticOperands(p.problem);
  const columnwise = values.length === 2 && ops[0] === '+' && values.every((v) => v >= 0n);
  if (columnwise) {
    const { steps, sum } = columnAddition(values[0], values[1], options.forgetCarry);
    return `${THINK_OPEN}${steps.join(' ')}${THINK_CLOSE}\\boxed{${sum}}`;
  }
  return `${THINK_OPEN}${operationSteps(values, ops).join(' ')}${THINK_CLOSE}\\boxed{${p.answer}}`;
}

/**
 * Whether training problem `index` gets the careless solution, for a teacher that is careless on a
 * `rate` fraction of problems: a fixed hash of (seed, index), so every worker and every retry agree.
 */
export function carelessTeacher(seed: number, index: number, rate: number): boolean {
  if (rate <= 0) return false;
  let h = (Math.imul(seed ^ 0x85ebca6b, 0xcc9e2d51) ^ Math.imul(index + 1, 0x1b873593)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296 < rate;
}

/** A worked solution in segments: the policy writes `before` and `after`; `inserted` is the tool's block. */
export interface ToolTrace {
  before: string;
  inserted: string;
  after: string;
}

/**
 * The tool-using solution of an arithmetic problem: one Python block that prints the value, the output
 * block the sandbox inserts (exactly as core/tools formats it), then the answer copied into `\boxed{}`.
 */
export function arithmeticToolTrace(p: SyntheticProblem): ToolTrace {
  const { values, ops } = arithmeticOperands(p.problem);
  const expr = values.map((v, i) => (i === 0 ? `${v}` : `${ops[i - 1]}${v}`)).join('');
  return {
    // The opening fence must start its own line for the protocol to see a code block.
    before: `${THINK_OPEN}\n${PYTHON_FENCE}print(${expr})\n${PYTHON_STOP}`,
    inserted: formatOutputBlock({ stdout: `${p.answer}\n`, error: '' }),
    after: `${THINK_CLOSE}\\boxed{${p.answer}}`,
  };
}
