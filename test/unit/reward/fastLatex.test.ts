/** The subset parser must read every expression it accepts exactly as the general LaTeX parser does. */
import { ComputeEngine } from '@cortex-js/compute-engine';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluate } from '../../../core/reward/verify/evaluate.ts';
import { parseSimpleLatex } from '../../../core/reward/verify/fastLatex.ts';
import type { Json } from '../../../core/reward/verify/latex.ts';

const NO_FUNCTIONS = new Set<string>();
const ce = new ComputeEngine();

const ACCEPTED = [
  '42',
  '-3.25',
  '4.46e19',
  '2.26e-10',
  '2x+1',
  'x(x+1)',
  '-x^2',
  '\\frac{1}{2}x',
  '3\\sqrt{2}',
  '\\sqrt[3]{8}',
  '2^{10}',
  '\\pi r^2',
  '(a+5)(b+2)',
  'xy - yx',
  '2\\cdot 3',
  '2 \\times 3 + 1',
  '-\\frac{3}{2}',
  '\\frac{\\sqrt{3}}{2}',
  'e^x',
  '2e',
  '\\frac{x+2}{7}',
];

test('accepted expressions evaluate like the general parser’s reading at several points', () => {
  for (const src of ACCEPTED) {
    const mine = parseSimpleLatex(src, NO_FUNCTIONS);
    assert.notEqual(mine, undefined, src);
    const theirs = ce.parse(src, { form: 'raw' }).json as Json;
    for (let k = 0; k < 3; k++) {
      const env = (name: string) => 0.7 + k + name.charCodeAt(0) / 100;
      const a = evaluate(mine!, env) as number;
      const b = evaluate(theirs, env) as number;
      assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)), `${src}: ${a} vs ${b}`);
    }
  }
});

test('anything outside the subset is left to the general parser', () => {
  for (const src of [
    '2^10',
    'x_1',
    '\\sin x',
    '|x|',
    '1/2',
    'a^b^c',
    '5!',
    "f'",
    '\\{1\\}',
    'x = 1',
    '1,2',
    '\\frac{1}',
  ]) {
    assert.equal(parseSimpleLatex(src, NO_FUNCTIONS), undefined, src);
  }
  assert.equal(parseSimpleLatex('1+'.repeat(100) + '1', NO_FUNCTIONS), undefined);
});

test('function letters before parentheses apply, other letters multiply', () => {
  assert.deepEqual(parseSimpleLatex('f(x)', new Set(['f'])), ['Apply', 'f', 'x']);
  assert.deepEqual(parseSimpleLatex('x(y)', new Set(['f'])), ['Multiply', 'x', ['Delimiter', 'y']]);
});
