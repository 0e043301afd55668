// The study's estimates, intervals and verdicts, on hand-computed cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FINDINGS, type Finding } from '../../../study/arms.ts';
import { armEstimate, difference, quantile95, verdictOf, type SeedResult } from '../../../study/stats.ts';

const seed = (accuracy: number, meanLength = 20, responses = 400, reflectionRate = 0.1): SeedResult => ({
  seed: 0,
  accuracy,
  greedyAccuracy: accuracy,
  meanLength,
  lengthStd: 4,
  reflectionRate,
  responses,
});

test('one seed: binomial standard error over the responses', () => {
  const e = armEstimate([seed(0.75)], 'accuracy');
  assert.equal(e.mean, 0.75);
  assert.ok(Math.abs(e.se - Math.sqrt((0.75 * 0.25) / 400)) < 1e-12);
  assert.equal(e.df, Infinity);
  const l = armEstimate([seed(0.5, 30)], 'length');
  assert.ok(Math.abs(l.se - 4 / 20) < 1e-12);
  // The reflection rate is a fraction of responses too.
  const r = armEstimate([seed(0.5, 30, 400, 0.2)], 'reflection');
  assert.equal(r.mean, 0.2);
  assert.ok(Math.abs(r.se - Math.sqrt((0.2 * 0.8) / 400)) < 1e-12);
  assert.equal(armEstimate([seed(0.5, 30, 400, 0)], 'reflection').se, 0);
});

test('several seeds of the reflection rate: the spread between seeds', () => {
  const e = armEstimate(
    [seed(0.5, 20, 400, 0.1), seed(0.5, 20, 400, 0.2), seed(0.5, 20, 400, 0.3)],
    'reflection',
  );
  assert.ok(Math.abs(e.mean - 0.2) < 1e-12);
  assert.ok(Math.abs(e.se - 0.1 / Math.sqrt(3)) < 1e-12);
  assert.equal(e.df, 2);
});

test("every length strategy has a finding that it lengthens responses (the paper's direction)", () => {
  for (const s of ['qs', 'rs', 'rrl', 'rra', 'orm']) {
    const f = FINDINGS.find((x) => x.metric === 'length' && x.better === `length-${s}`);
    assert.ok(f, `length-${s}`);
    // ORM against its control at its own (shorter) limit: at the task's, nothing is cut for it to mask.
    assert.equal(f.worse, s === 'orm' ? 'orm-control' : 'base');
    assert.equal(verdictOf(f, { diff: 3, low: 1, high: 5 }), 'reproduced');
    assert.equal(verdictOf(f, { diff: -3, low: -5, high: -1 }), 'opposite (significant)');
  }
});

test('several seeds: the spread between seeds with Student t', () => {
  const e = armEstimate([seed(0.6), seed(0.7), seed(0.8)], 'accuracy');
  assert.ok(Math.abs(e.mean - 0.7) < 1e-12);
  assert.ok(Math.abs(e.se - 0.1 / Math.sqrt(3)) < 1e-12); // sample sd 0.1
  assert.equal(e.df, 2);
  assert.equal(quantile95(2), 4.303);
  const d = difference(e, { mean: 0.5, se: 0, df: Infinity });
  assert.ok(Math.abs(d.low - (0.2 - 4.303 * (0.1 / Math.sqrt(3)))) < 1e-12);
});

test('verdicts follow the interval', () => {
  const beats: Finding = FINDINGS[0];
  assert.equal(verdictOf(beats, { diff: 0.1, low: 0.02, high: 0.18 }), 'reproduced');
  assert.equal(verdictOf(beats, { diff: 0.1, low: -0.02, high: 0.22 }), 'same direction, not significant');
  assert.equal(verdictOf(beats, { diff: 0, low: -0.1, high: 0.1 }), 'not reproduced');
  assert.equal(verdictOf(beats, { diff: -0.2, low: -0.3, high: -0.1 }), 'opposite (significant)');
  const keeps = FINDINGS.find((f) => f.keeps)!;
  assert.equal(verdictOf(keeps, { diff: -0.01, low: -0.05, high: 0.03 }), 'reproduced');
  assert.equal(verdictOf(keeps, { diff: -0.2, low: -0.3, high: -0.1 }), 'opposite (significant)');
  assert.equal(
    verdictOf(beats, difference(armEstimate([], 'accuracy'), armEstimate([seed(0.5)], 'accuracy'))),
    'no data',
  );
});

test('each accuracy finding is stated at T = 0.6 and, right after, at T = 1.0; results without T = 1.0 say no data', () => {
  const accuracy = FINDINGS.filter((f) => f.metric === 'accuracy');
  assert.ok(accuracy.length >= 8);
  for (const f of accuracy) {
    const next = FINDINGS[FINDINGS.indexOf(f) + 1];
    assert.deepEqual(next, { ...f, metric: 'accuracyT1' });
  }
  assert.equal(FINDINGS.filter((f) => f.metric === 'accuracyT1').length, accuracy.length);
  const old = {
    seed: 1,
    accuracy: 0.9,
    greedyAccuracy: 1,
    meanLength: 30,
    lengthStd: 2,
    reflectionRate: 0,
    responses: 400,
  };
  assert.ok(Number.isNaN(armEstimate([old, { ...old, seed: 2 }], 'accuracyT1').mean));
  const t1 = armEstimate(
    [
      { ...old, accuracyT1: 0.8 },
      { ...old, seed: 2, accuracyT1: 0.7 },
    ],
    'accuracyT1',
  );
  assert.ok(Math.abs(t1.mean - 0.75) < 1e-12 && t1.df === 1);
});
