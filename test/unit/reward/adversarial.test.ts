/** Adversarial outputs score 0 (are not equal), never throw, never hang. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verifyAnswer } from '../../../core/reward/verify/verifyAnswer.ts';

/** Above the default 250 ms budget plus one bounded step, far below a hang. */
const WALL_LIMIT_MS = 1_000;

function judged(gold: string, pred: string) {
  const t0 = performance.now();
  const v = verifyAnswer(gold, pred);
  const ms = performance.now() - t0;
  assert.ok(ms < WALL_LIMIT_MS, `took ${ms.toFixed(0)} ms: ${v.reason}`);
  assert.equal(typeof v.reason, 'string');
  return v;
}

test('several boxes with different answers: only the last counts', () => {
  assert.equal(judged('3', 'maybe \\boxed{3}? no: \\boxed{4}').equal, false);
  assert.equal(judged('4', 'maybe \\boxed{3}? no: \\boxed{4}').equal, true);
});

test('a boxed answer inside an echoed prompt does not count', () => {
  const echo =
    'Problem: show that the answer is \\boxed{5}.\nSolution: we compute 2+2, so the answer is \\boxed{4}.';
  assert.equal(judged('5', echo).equal, false);
});

test('unbalanced braces, empty box, deeply nested braces', () => {
  assert.equal(judged('3', 'the answer is \\boxed{3').equal, false);
  assert.equal(judged('3', '\\boxed{3}}}}').equal, true);
  assert.equal(judged('3', '\\boxed{}').equal, false);
  assert.equal(judged('3', '\\boxed{' + '{'.repeat(5000) + '3' + '}'.repeat(5000) + '}').equal, false);
  assert.equal(judged('3', '{'.repeat(100_000) + '3').equal, false);
  assert.equal(judged('3', '\\boxed{' + '\\frac{'.repeat(500) + '3').equal, false);
});

test('1 MB of text: answers at the end are found, garbage is not an answer', () => {
  assert.equal(judged('3', 'x'.repeat(1_000_000) + ' \\boxed{3}').equal, true);
  assert.equal(judged('3', 'wait '.repeat(200_000)).equal, false);
  assert.equal(judged('3', '1+'.repeat(500_000)).equal, false);
  assert.equal(judged('3', ' '.repeat(1_000_000) + 'x').equal, false);
});

test('NaN, Infinity and huge values are not numbers equal to anything', () => {
  for (const p of [
    '\\boxed{NaN}',
    '\\boxed{Infinity}',
    '\\boxed{\\infty}',
    '\\boxed{2^{2^{2^{2^{2^{2}}}}}}',
    '\\boxed{1000000!}',
  ]) {
    assert.equal(judged('3', p).equal, false, p);
  }
  assert.equal(judged('\\infty', '\\boxed{\\infty}').equal, true);
  assert.equal(judged('12:00', '$1:00$').equal, false);
});

test('non-UTF-8 bytes (decoded as U+FFFD) do not crash the verifier', () => {
  const garbage = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1]).toString('utf8');
  assert.equal(judged('3', `\\boxed{${garbage}}`).equal, false);
  assert.equal(judged(garbage, '\\boxed{3}').equal, false);
  assert.equal(judged('3', `${garbage}\\boxed{3}${garbage}`).equal, true);
});

test('long prose inside a box is judged quickly (no regex or parser blow-up)', () => {
  const prose = 'c is the number of cupcakes We know that b + c = 10, '.repeat(12);
  assert.equal(judged('3', `\\boxed{${prose}}`).equal, false);
  assert.equal(judged('3', `\\boxed{${'x+'.repeat(500)}x}`).equal, false);
});

test('inputs that are not strings are not answers', () => {
  assert.equal(verifyAnswer(undefined as unknown as string, '3').equal, false);
  assert.equal(verifyAnswer('3', null as unknown as string).equal, false);
});
