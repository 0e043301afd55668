/** Equivalence rules, one by one, through the public entry point (gold first). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verifyAnswer, type VerifyOptions } from '../../../core/reward/verify/verifyAnswer.ts';

const eq = (gold: string, pred: string, o: VerifyOptions = {}) => verifyAnswer(gold, `$${pred}$`, o).equal;

test('numbers: tolerance to the configured decimal places, exact big integers', () => {
  assert.ok(eq('\\frac{1}{12}', '0.0833333333333333'));
  assert.ok(!eq('\\frac{1}{12}', '0.0833'));
  assert.ok(eq('\\frac{1}{12}', '0.0833', { precision: 3 }));
  assert.ok(eq('004', '4'));
  assert.ok(eq('1000', '1000.0'));
  assert.ok(eq('123456789012345678901', '123456789012345678901'));
  assert.ok(!eq('123456789012345678901', '123456789012345678902'));
  assert.ok(eq('-\\frac{10}{9}', '-10/9'));
  assert.ok(!eq('1000000007', '1000000008'));
  assert.ok(!eq('98765432101', '98765432101.5'));
  assert.ok(eq('98765432101', '98765432101.0'));
});

test('rational and symbolic constants', () => {
  assert.ok(eq('\\frac{14}{3}', '\\frac{28}{6}'));
  assert.ok(eq('3\\sqrt{13}', '\\sqrt{117}'));
  assert.ok(eq('\\frac{9}{4}\\pi', '\\frac94\\pi'));
  assert.ok(!eq('4', '4\\sqrt{2}'));
  assert.ok(!eq('2', '\\frac{1+\\sqrt{5}}{2}'));
});

test('expressions: random-point identity, variable names matter in strict mode', () => {
  assert.ok(eq('\\frac{x+2}{7}', '\\frac{x}{7}+\\frac{2}{7}'));
  assert.ok(eq('\\tan^2(y)+1', '\\sec^2(y)'));
  assert.ok(eq('(x+1)^2', 'x^2+2x+1'));
  assert.ok(!eq('x+2n+1', 'x+1'));
  assert.ok(!eq('(a+5)(b+2)', '(+5)(b+2)'));
  assert.ok(!eq('f(x)', 'f(y)'));
  assert.ok(eq('f(x)', 'f(y)', { strict: false }));
});

test('tuples are ordered, sets and bare lists are not', () => {
  assert.ok(eq('(6,31,-1)', '(6, 31, -1)'));
  assert.ok(!eq('(3,1)', '(1,3)'));
  assert.ok(eq('\\{1,2\\}', '\\{2,1\\}'));
  assert.ok(eq('-2,1', '1,-2'));
  assert.ok(eq('(1,3)', '{1,3}'));
  assert.ok(!eq('(3,1)', '{1,3}'));
  assert.ok(eq('1 \\pm \\sqrt{19}', '1+\\sqrt{19}, 1-\\sqrt{19}'));
  assert.ok(!eq('\\pm 2021', '2021'));
});

test('intervals with open and closed ends, unions', () => {
  assert.ok(eq('[0,1)', '[0, 1)'));
  assert.ok(!eq('(0,9)', '[0,9)'));
  assert.ok(!eq('[0,9)', '[0,1)'));
  assert.ok(eq('(\\frac{3}{5},\\frac{8}{3}]', '(0.6,2.6667]', { precision: 2 }));
  assert.ok(eq('(-\\infty, 1]', '(-\\infty,1]'));
  assert.ok(eq('(2, 12) \\cup (12, 102)', '(12,102) \\cup (2,12)'));
  assert.ok(eq('-793 < a < 10', '(-793, 10)'));
});

test('matrices, including sums and products of matrices', () => {
  assert.ok(
    eq(
      '\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}',
      '\\left[\\begin{array}{cc}1 & 2 \\\\ 3 & 4\\end{array}\\right]',
    ),
  );
  assert.ok(
    eq(
      '\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}',
      '\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}',
    ),
  );
  assert.ok(
    !eq('\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}', '\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}'),
  );
});

test('equations: same solution set; assignments answer with their right side', () => {
  assert.ok(eq('2x+4y-3=0', 'y=-\\frac{1}{2}x+\\frac{3}{4}'));
  assert.ok(eq('34x+45y-20z+100=0', '-34x-45y+20z-100=0'));
  assert.ok(eq('k=1', '1'));
  assert.ok(eq('1', 'k=1'));
  assert.ok(eq('(p,q)=(3,2)', '(3,2)'));
  assert.ok(eq('x = 11', 'x = 5+5+1 = 7 =11'));
  assert.ok(eq('11', 'x\\approx11'));
  assert.ok(!eq('a +3z = 0', '0'));
  assert.ok(!eq('7 = 11a+c', '11a+c'));
});

test('inequalities: direction and strictness matter; set/relation comparison is one-way by default', () => {
  assert.ok(eq('x < 1', '-x > -1'));
  assert.ok(!eq('x < 1', 'x > -1'));
  assert.ok(!eq('x \\geq 5', 'x \\leq 5'));
  assert.ok(eq('x \\leq 5', '5 \\geq x'));
  assert.ok(!eq('x < 5', 'x \\le 5'));
  assert.ok(eq('-2 \\le x \\le 7', 'x \\in [-2,7]'));
  assert.ok(!eq('x \\in [-2,7]', '-2 \\le x \\le 7'));
  assert.ok(eq('x \\in [-2,7]', '-2 \\le x \\le 7', { allowSetRelationComp: true }));
});

test('percent, units, degrees, text and multiple choice', () => {
  assert.ok(eq('28\\%', '28'));
  assert.ok(eq('20\\%', '0.2'));
  assert.ok(!eq('0.28', '28'));
  assert.ok(eq('125 \\text{ miles}', '125'));
  assert.ok(eq('90^\\circ', '90'));
  assert.ok(eq('\\text{Evelyn}', '\\text{evelyn}'));
  assert.ok(eq('\\text{C}', '\\text{(C)}'));
  assert.ok(!eq('d', '\\text{E}'));
});

test('every verdict carries a reason', () => {
  const v = verifyAnswer('3', '\\boxed{4}');
  assert.equal(v.equal, false);
  assert.match(v.reason, /different integers/);
  assert.match(verifyAnswer('3', '\\boxed{3.5}').reason, /different values \(3 vs 3.5\)/);
});
