// pass@k against the closed form 1 − C(n−c, k)/C(n, k) in exact integer arithmetic; maj@k on clear
// majorities and on ties; the bootstrap interval; the per-evaluation metrics over records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanPassAtK, passAtK } from '../../../core/metrics/passAtK.ts';
import { majorityAtK } from '../../../core/metrics/majority.ts';
import { bootstrapInterval } from '../../../core/metrics/bootstrap.ts';
import { sampledEvaluationMetrics } from '../../../core/metrics/sampledEvaluation.ts';
import { mulberry32 } from '../../../core/random.ts';

function binomial(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}

/** 1 − C(n−c, k)/C(n, k), the ratio taken on exact integers scaled by 10^30 before the one division. */
function closedForm(n: number, c: number, k: number): number {
  const scale = 10n ** 30n;
  return 1 - Number((binomial(n - c, k) * scale) / binomial(n, k)) / 1e30;
}

test('pass@k equals the closed form on hand-made cases', () => {
  assert.ok(Math.abs(passAtK(10, 3, 1) - 0.3) < 1e-15);
  assert.ok(Math.abs(passAtK(10, 3, 2) - 24 / 45) < 1e-15, '1 − C(7,2)/C(10,2) = 1 − 21/45');
  assert.equal(passAtK(5, 0, 3), 0);
  assert.equal(passAtK(5, 5, 1), 1);
  assert.equal(passAtK(5, 3, 3), 1, 'n − c < k: every k-subset holds a correct sample');
  assert.equal(passAtK(4, 1, 4), 1, 'k = n: any correct');
  for (const [n, c, k] of [
    [16, 1, 1],
    [16, 4, 8],
    [64, 7, 10],
    [200, 37, 50],
    [1000, 3, 100],
  ]) {
    const exact = closedForm(n, c, k);
    assert.ok(
      Math.abs(passAtK(n, c, k) - exact) < 1e-12,
      `pass@${k} n=${n} c=${c}: ${passAtK(n, c, k)} vs ${exact}`,
    );
  }
  // c/n for k = 1 at any n: the estimator is unbiased for pass@1.
  for (let c = 0; c <= 32; c++) assert.ok(Math.abs(passAtK(32, c, 1) - c / 32) < 1e-15);
  assert.throws(() => passAtK(4, 1, 5), /k must be an integer in \[1, n\]/);
  assert.throws(() => passAtK(4, 5, 1), /c must be an integer in \[0, n\]/);
  assert.ok(
    Math.abs(
      meanPassAtK(
        [
          { n: 10, c: 3 },
          { n: 10, c: 0 },
        ],
        2,
      ) -
        12 / 45,
    ) < 1e-15,
  );
});

test('maj@k: the most frequent answer among the first k; a tie scores the share of correct tied answers', () => {
  const v = (answer: string | undefined, correct: boolean) => ({ answer, correct });
  assert.equal(majorityAtK([v('4', true), v('4', true), v('5', false)], 3), 1);
  assert.equal(majorityAtK([v('5', false), v('5', false), v('4', true)], 3), 0);
  assert.equal(
    majorityAtK([v('4', true), v('5', false), v('5', false), v('4', true)], 4),
    0.5,
    'two-way tie',
  );
  assert.equal(majorityAtK([v('4', true), v('5', false), v('6', false)], 3), 1 / 3, 'three-way tie');
  assert.equal(majorityAtK([v('5', false), v('4', true), v('4', true)], 1), 0, 'only the first k vote');
  assert.equal(majorityAtK([v(undefined, false), v('', false), v('4', true)], 3), 1, 'no answer, no vote');
  assert.equal(majorityAtK([v(undefined, false), v(undefined, false)], 2), 0);
  assert.throws(() => majorityAtK([v('1', true)], 2), /k must be an integer in \[1, 1\]/);
});

test('bootstrap interval: reproducible, around the mean, degenerate for constant scores', () => {
  assert.deepEqual(bootstrapInterval([0.5, 0.5, 0.5], mulberry32(1)), [0.5, 0.5]);
  const scores = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? 1 : 0));
  const [lo, hi] = bootstrapInterval(scores, mulberry32(7));
  assert.deepEqual(bootstrapInterval(scores, mulberry32(7)), [lo, hi]);
  assert.ok(lo < 0.25 && hi > 0.25 && lo >= 0 && hi <= 1, `[${lo}, ${hi}]`);
  // Normal approximation of the same interval: 0.25 ± 1.96·√(0.25·0.75/40) ≈ [0.116, 0.384].
  assert.ok(Math.abs(lo - 0.116) < 0.05 && Math.abs(hi - 0.384) < 0.05, `[${lo}, ${hi}]`);
});

test('per-evaluation metrics: avg@n, pass@k and maj@k for every k ≤ n, unanswered problems count 0', () => {
  const rec = (problem: number, sample: number, answer: string, correct: boolean) => ({
    problem,
    sample,
    answer,
    correct,
  });
  const records = [
    rec(0, 0, '1', true),
    rec(0, 1, '2', false),
    rec(0, 2, '1', true),
    rec(1, 2, '7', false),
    rec(1, 0, '7', false),
    rec(1, 1, '3', true),
  ];
  const m = sampledEvaluationMetrics(records, 3, 3, () => mulberry32(0));
  assert.equal(m.n, 3);
  assert.ok(Math.abs(m.avgAtN - 3 / 9) < 1e-15);
  assert.ok(Math.abs(m.passAt[1] - (2 / 3 + 1 / 3) / 3) < 1e-15);
  assert.ok(Math.abs(m.passAt[2] - (1 + (1 - 1 / 3)) / 3) < 1e-15, 'problem 1: 1 − C(2,2)/C(3,2)');
  assert.ok(Math.abs(m.passAt[3] - 2 / 3) < 1e-15);
  assert.ok(Math.abs(m.majAt[1] - 1 / 3) < 1e-15, 'first samples: problem 0 right, problem 1 wrong');
  assert.ok(Math.abs(m.majAt[2] - (0.5 + 0.5) / 3) < 1e-15, 'problem 0 ties 1–2, problem 1 ties 7–3');
  assert.ok(Math.abs(m.majAt[3] - 1 / 3) < 1e-15);
  assert.ok(m.interval95.avgAtN[0] <= m.avgAtN && m.avgAtN <= m.interval95.avgAtN[1]);
  assert.throws(
    () => sampledEvaluationMetrics(records.slice(1), 2, 3, () => mulberry32(0)),
    /has 2 samples, expected 3/,
  );
});
