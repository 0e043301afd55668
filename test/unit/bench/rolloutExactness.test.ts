/**
 * bench:rollout's comparison with the default Generator (bench/rollout/exactness.ts): rows count as the
 * same only when every token is, log-probs are compared over each row's agreeing prefix only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareGenerations, formatExactness } from '../../../bench/rollout/exactness.ts';

const row = (tokens: number[], logprobs: number[]) => ({ tokens, logprobs });

test('identical generations: every row the same, every log-prob bit-equal', () => {
  const a = [row([1, 2, 3], [-0.5, -1, -2]), row([4, 5], [-0.25, -3])];
  const e = compareGenerations(
    a,
    a.map((r) => ({ ...r })),
  );
  assert.deepEqual(e, {
    sameTokenRows: 2,
    rows: 2,
    firstDifferences: [],
    maxLogprobDiff: 0,
    equalLogprobs: 5,
    comparedLogprobs: 5,
  });
});

test('a row that diverges counts from its first difference; its later log-probs are not compared', () => {
  const reference = [row([1, 2, 3, 4], [-0.5, -1, -2, -3]), row([7, 8], [-1, -1])];
  const candidate = [row([1, 2, 9, 4], [-0.5, -1 + 2e-6, -50, -3]), row([7, 8], [-1, -1 - 1e-7])];
  const e = compareGenerations(reference, candidate);
  assert.equal(e.sameTokenRows, 1);
  assert.deepEqual(e.firstDifferences, [2]);
  assert.equal(e.comparedLogprobs, 4); // 2 before the difference + 2 of the equal row
  assert.equal(e.equalLogprobs, 2);
  assert.ok(Math.abs(e.maxLogprobDiff - 2e-6) < 1e-12);
  assert.match(formatExactness(e), /in 1\/2 rows \(the others from token 2\).*2\/4 bit-equal/);
});

test('a row that is shorter or longer than the reference differs where one of them ends', () => {
  const e = compareGenerations([row([1, 2, 3], [0, 0, 0])], [row([1, 2], [0, 0])]);
  assert.equal(e.sameTokenRows, 0);
  assert.deepEqual(e.firstDifferences, [2]);
  const longer = compareGenerations([row([1, 2], [0, 0])], [row([1, 2, 3], [0, 0, 0])]);
  assert.deepEqual(longer.firstDifferences, [2]);
  assert.equal(longer.comparedLogprobs, 2);
});
