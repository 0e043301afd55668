import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractAnswer, findBoxes, latexSpans } from '../../../core/reward/verify/extract.ts';

const ex = (text: string, mode: 'latex' | 'expr' | 'latex+expr' = 'latex+expr', lastNumberFallback = true) =>
  extractAnswer(text, { mode, lastNumberFallback });

test('the last \\boxed{} wins, with nested braces matched', () => {
  assert.deepEqual(ex('first \\boxed{3}, then \\boxed{\\frac{1}{2}}'), {
    text: '\\frac{1}{2}',
    source: 'boxed',
  });
  assert.equal(ex('so \\boxed{\\{1, \\{2\\}\\}} done')?.text, '\\{1, \\{2\\}\\}');
  assert.equal(ex('\\fbox{7}')?.text, '7');
  assert.equal(ex('\\boxed 5.')?.text, '5');
});

test('boxes separated only by a connector are one answer; a draft box before prose is not', () => {
  assert.equal(ex('\\boxed{1} and \\boxed{2}')?.text, '1, 2');
  assert.equal(ex('\\boxed{(2,2)} \\quad \\text{and} \\quad \\boxed{(6,2)}')?.text, '(2,2), (6,2)');
  assert.equal(ex('\\boxed{1} no no no no no \\boxed{2}')?.text, '2');
});

test('an unclosed last box in a prediction means no answer (it was cut off)', () => {
  assert.equal(ex('the answer is \\boxed{12'), undefined);
  assert.equal(extractAnswer('\\boxed{12', { acceptUnclosedBox: true })?.text, '12');
  assert.deepEqual(
    findBoxes('\\boxed{1} \\boxed{2').map((b) => b.unclosed),
    [false, true],
  );
});

test('<answer> tags are searched first, their content extracted again', () => {
  assert.deepEqual(ex('<think>maybe \\boxed{3}</think><answer>\\boxed{4}</answer>'), {
    text: '4',
    source: 'answer-tag',
  });
  assert.equal(ex('<answer> 12 </answer>')?.text, '12');
});

test('"final answer is" after the last box supersedes it', () => {
  const t =
    'so $\\boxed{255}$ after six months. Final Answer: The final answer is $10,455$. I hope it is correct.';
  assert.deepEqual(ex(t), { text: '10,455', source: 'final-answer' });
  assert.equal(ex('Final Answer: The largest $n$ is 34.')?.text, '34');
});

test('GSM8K #### marks', () => {
  assert.deepEqual(ex('He pays 3*4=12 dollars.\n#### 1,200', 'expr'), { text: '1200', source: 'gsm8k' });
});

test('math spans: $…$ and \\(…\\) on one line, $$…$$ and \\[…\\] across lines, escaped \\$ skipped', () => {
  assert.equal(ex('Answer $ 9 $', 'latex')?.text, '9');
  assert.equal(ex('Answer \\( 9 \\)', 'latex')?.text, '9');
  assert.equal(ex('Answer \\[ \n 9 \n \\]', 'latex')?.text, '9');
  assert.equal(ex('Answer $$ \n 9 \n $$', 'latex')?.text, '9');
  assert.equal(ex('Answer $ \n 9 \n $', 'latex'), undefined);
  assert.equal(
    ex('Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $', 'latex')?.text,
    '\\frac{1}{2} \\$ = \\frac{10}{9}',
  );
  assert.deepEqual(
    latexSpans('a $x$ b $$y$$').map((s) => s.text),
    ['x', 'y'],
  );
  assert.equal(ex('$21,16$ or $11$', 'latex')?.text, '21,16, 11');
});

test('plain numbers: thousands, decimal comma, leading dot, currency, percent; no number inside a word', () => {
  assert.equal(ex('7,425,000', 'expr')?.text, '7425000');
  assert.equal(ex('1 000', 'expr')?.text, '1000');
  assert.equal(ex('Soucis : 2,74 $ a..', 'expr')?.text, '2.74');
  assert.equal(ex('.4', 'expr')?.text, '.4');
  assert.equal(ex('the number is not 10 which is 1,000.99€', 'expr')?.text, '1000.99');
  assert.equal(ex('28 percent', 'expr')?.text, '28\\%');
  assert.equal(ex('AZYUK2A', 'expr'), undefined);
  assert.equal(ex('P(A) = (1/2) * (4/3) P(A) = 2/3. <|im_start|>user', 'expr')?.text, '2/3');
});

test('the last-number fallback is configurable', () => {
  assert.equal(ex('I think it is 42 or so', 'latex+expr', true)?.text, '42');
  assert.equal(ex('I think it is 42 or so', 'latex+expr', false), undefined);
});

test('a short markup-free answer is taken whole; prose is not', () => {
  assert.equal(ex('\\frac{10}{9}', 'latex')?.text, '\\frac{10}{9}');
  assert.equal(ex('I have no idea what the answer could be', 'latex'), undefined);
});

test('multiple-choice letters after "answer is"', () => {
  assert.equal(ex('so the answer is (C).')?.text, 'C');
  assert.equal(ex('Answer: B')?.text, 'B');
  assert.equal(ex('the answer is $\\text{(D)}$')?.text, '\\text{(D)}');
});
