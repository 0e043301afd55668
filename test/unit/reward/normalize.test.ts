import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeAnswer } from '../../../core/reward/verify/normalize.ts';

const n = (s: string) => normalizeAnswer(s).text;

test('fraction variants and malformed fractions', () => {
  assert.equal(n('\\dfrac{1}{3}'), '\\frac{1}{3}');
  assert.equal(n('\\tfrac{1}{3}'), '\\frac{1}{3}');
  assert.equal(n('\\cfrac{1}{3}'), '\\frac{1}{3}');
  assert.equal(n('\\frac13'), '\\frac{1}{3}');
  assert.equal(n('\\frac3{3}'), '\\frac{3}{3}');
  assert.equal(n('\\sqrt3'), '\\sqrt{3}');
});

test('delimiters, \\left/\\right, spacing and styling', () => {
  assert.equal(n('$\\left( \\frac{1}{3} \\right)$'), '( \\frac{1}{3} )');
  assert.equal(n('\\displaystyle x\\,+\\!1'), 'x + 1');
  assert.equal(n('\\\\frac{1}{2}'), '\\frac{1}{2}');
});

test('thousands separators, but not a list', () => {
  assert.equal(n('14{,}916'), '14916');
  assert.equal(n('11,\\! 111,\\! 111,\\! 100'), '11111111100');
  assert.equal(n('1,000'), '1000');
  assert.equal(n('1 000'), '1000');
  assert.equal(n('32, 349'), '32, 349');
});

test('units, degrees, percent', () => {
  assert.equal(n('\\frac{1}{3} \\text{meters}'), '\\frac{1}{3}');
  assert.equal(n('15\\mbox{ cm}^2'), '15');
  assert.equal(n('125\\textnormal{ miles}'), '125');
  assert.equal(n('0.06 \\text{ yuan}'), '0.06');
  assert.equal(n('90^\\circ'), '90');
  assert.equal(n('90^{\\circ}'), '90');
  assert.equal(n('90°'), '90');
  assert.deepEqual(normalizeAnswer('28\\%'), { text: '28', percent: true });
  assert.deepEqual(normalizeAnswer('28 percent'), { text: '28', percent: true });
  assert.deepEqual(normalizeAnswer('28'), { text: '28', percent: false });
});

test('relation spellings', () => {
  assert.equal(n('x >= 5'), 'x \\ge 5');
  assert.equal(n('x \\geq 5'), 'x \\ge 5');
  assert.equal(n('x \\leqslant 5'), 'x \\le 5');
  assert.equal(n('x != 3'), 'x \\ne 3');
  assert.equal(n('x \\lt 3'), 'x < 3');
});

test('answer prefixes and trailing punctuation; a factorial stays', () => {
  assert.equal(n('The answer is: 5.'), '5');
  assert.equal(n('5!'), '5!');
  assert.equal(n('7;'), '7');
});
