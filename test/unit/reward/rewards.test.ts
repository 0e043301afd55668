/** Rewards and length strategies, with worked examples from the definitions in DESIGN.md §6. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dapoOverlongPenalty } from '../../../core/reward/dapoOverlong.ts';
import { dynamicSamplingFilter, groupHasSignal } from '../../../core/reward/dynamicSampling.ts';
import { zeroFormatGate, zeroReward } from '../../../core/reward/formatGate.ts';
import {
  countReflectionWords,
  lengthRewardRRA,
  lengthRewardRRL,
  overlongMaskORM,
  questionSelectionQS,
  responseSelectionRS,
} from '../../../core/reward/lengthStrategies.ts';
import { still15bReward } from '../../../core/reward/still.ts';

test('STILL 1.5B: +1 correct, −1 wrong, −2 without a boxed answer', () => {
  assert.equal(still15bReward({ correct: true, hasBoxed: true, truncated: false }), 1);
  assert.equal(still15bReward({ correct: false, hasBoxed: true, truncated: false }), -1);
  assert.equal(still15bReward({ correct: false, hasBoxed: false, truncated: false }), -2);
});

test('STILL 1.5B: truncated responses scored, counted wrong, or zeroed as configured', () => {
  const cut = { correct: false, hasBoxed: false, truncated: true };
  assert.equal(still15bReward(cut), -2);
  assert.equal(still15bReward(cut, { truncated: 'score' }), -2);
  assert.equal(still15bReward(cut, { truncated: 'wrong' }), -1);
  assert.equal(still15bReward(cut, { truncated: 'zero' }), 0);
  assert.equal(still15bReward({ correct: true, hasBoxed: true, truncated: true }, { truncated: 'wrong' }), 1);
  assert.equal(still15bReward({ correct: true, hasBoxed: true, truncated: false }, { correct: 2 }), 2);
});

test('zero-RL format gate: exactly one <think>…</think> then one <answer>…</answer>', () => {
  assert.equal(zeroFormatGate('<think>2+2=4</think> <answer>4</answer>').ok, true);
  assert.equal(zeroFormatGate('<think>2+2=4</think> <answer>4</answer>').answer, '4');
  assert.equal(zeroFormatGate('2+2=4</think><answer>4</answer>', { thinkOpenedInPrompt: true }).ok, true);
  assert.equal(zeroFormatGate('<answer>4</answer>').ok, false);
  assert.equal(zeroFormatGate('<think>a</think><think>b</think><answer>4</answer>').ok, false);
  assert.equal(zeroFormatGate('<think>a</think><answer>4</answer><answer>5</answer>').ok, false);
  assert.equal(zeroFormatGate('<answer>4</answer><think>a</think>').ok, false);
  assert.equal(zeroFormatGate('<think>a</think><answer>4</answer> and more').ok, false);
  assert.equal(zeroFormatGate('<think>a</think><answer> </answer>').ok, false);
  assert.equal(zeroReward(true, true), 1);
  assert.equal(zeroReward(false, true), 0);
  assert.equal(zeroReward(true, false), 0);
});

test('QS keeps a question only when correct responses are longer on average than wrong ones', () => {
  // correct mean (300+500)/2 = 400 > wrong mean (100+200)/2 = 150
  const longerCorrect = [
    { length: 300, correct: true },
    { length: 500, correct: true },
    { length: 100, correct: false },
    { length: 200, correct: false },
  ];
  assert.equal(questionSelectionQS(longerCorrect), true);
  assert.equal(questionSelectionQS(longerCorrect.map((r) => ({ ...r, correct: !r.correct }))), false);
  assert.equal(questionSelectionQS([{ length: 9, correct: true }]), false);
});

test('RS trains on (longest correct, shortest wrong) only when the correct one is longer', () => {
  const group = [
    { length: 300, correct: true },
    { length: 500, correct: true },
    { length: 100, correct: false },
    { length: 200, correct: false },
  ];
  assert.deepEqual(responseSelectionRS(group), [1, 2]);
  assert.deepEqual(
    responseSelectionRS([
      { length: 50, correct: true },
      { length: 100, correct: false },
    ]),
    [],
  );
  assert.deepEqual(responseSelectionRS([{ length: 50, correct: true }]), []);
});

test('RRL: R = L / Lmax + Rcorr', () => {
  assert.equal(lengthRewardRRL(1024, 4096, 1), 1.25);
  assert.equal(lengthRewardRRL(4096, 4096, -1), 0);
  assert.equal(lengthRewardRRL(5000, 4096, 0), 1); // beyond the limit counts as the limit
  assert.throws(() => lengthRewardRRL(1, 0, 0), /max length must be positive/);
});

test('RRA: R = min(A, 20) / 20 + Rcorr, A counting however/but/wait/verify/alternatively', () => {
  const text =
    'Wait, let me verify. But however I try... Alternatively, waiting is not a word we count. butter neither.';
  assert.equal(countReflectionWords(text), 5);
  assert.equal(lengthRewardRRA(text, 1), 1.25);
  assert.equal(lengthRewardRRA('wait '.repeat(30), -1), 0); // capped at 20
  assert.equal(lengthRewardRRA('no reflection', 1), 1);
});

test('ORM masks truncated responses out of the loss', () => {
  assert.deepEqual(
    overlongMaskORM([{ truncated: false }, { truncated: true }, { truncated: false }]),
    [1, 0, 1],
  );
});

test('DAPO soft overlong punishment: 0, then linear to −1 over the cache window, then −1', () => {
  // Lmax = 20480, Lcache = 4096 (DAPO's setting): penalty starts after 16384 tokens
  assert.equal(dapoOverlongPenalty(16384, 20480, 4096), 0);
  assert.equal(dapoOverlongPenalty(18432, 20480, 4096), -0.5);
  assert.equal(dapoOverlongPenalty(20480, 20480, 4096), -1);
  assert.equal(dapoOverlongPenalty(30000, 20480, 4096), -1);
  assert.equal(dapoOverlongPenalty(18432, 20480, 4096, 2), -1);
  assert.throws(() => dapoOverlongPenalty(1, 10, 20), /cache length/);
});

test('dynamic sampling drops groups whose rewards are all equal', () => {
  assert.equal(groupHasSignal([1, 1, 1]), false);
  assert.equal(groupHasSignal([1, -1, 1]), true);
  assert.equal(groupHasSignal([0.5]), false);
  assert.deepEqual(
    dynamicSamplingFilter([
      [1, 1],
      [1, -1],
      [-2, -2, -2],
      [0, 1e-12],
    ]),
    { keep: [1], dropped: 3 },
  );
});
