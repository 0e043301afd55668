import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  k1Kl,
  k2Kl,
  k3Kl,
  K3_VALUE_CLAMP,
  KL_ESTIMATOR_NAMES,
  klEstimators,
  klPenalizedRewards,
  klPerToken,
  klShapedTokenRewards,
  responseKlSums,
  sequenceReturns,
} from '../../../core/rl/kl.ts';
import {
  cosineKlCoef,
  klCoefAt,
  referenceStepAt,
  shouldRefreshReference,
} from '../../../core/rl/klSchedule.ts';
import { seqStartsFromLengths } from '../../../core/rl/tokens.ts';

test('k1, k2, k3 worked values with x = log π − log π_ref', () => {
  const logp = Math.log(0.5);
  const ref = Math.log(0.25); // x = ln 2
  assert.ok(Math.abs(k1Kl(logp, ref) - Math.LN2) < 1e-15);
  assert.ok(Math.abs(k2Kl(logp, ref) - 0.5 * Math.LN2 ** 2) < 1e-15);
  // k3 = π_ref/π − log(π_ref/π) − 1 = 0.5 + ln 2 − 1.
  assert.ok(Math.abs(k3Kl(logp, ref) - (0.5 + Math.LN2 - 1)) < 1e-15);
  for (const kl of [k1Kl, k2Kl, k3Kl]) assert.equal(kl(-1.3, -1.3), 0);
});

test('k3 is ≥ 0 everywhere and clamped as verl clamps it', () => {
  for (let x = -30; x <= 30; x += 0.01) assert.ok(k3Kl(x, 0) >= 0, `k3 at ${x}`);
  assert.equal(k3Kl(-30, 0), K3_VALUE_CLAMP); // e^20 − 21 would be huge
  assert.equal(k3Kl(40, 0), K3_VALUE_CLAMP); // log-ratio clamped to −20: e^−20 + 20 − 1 ≈ 19, then to 10
});

test('on samples of π, E[k1] = E[k3] = KL(π ‖ π_ref) exactly; E[k2] is close for close distributions', () => {
  const pi = [0.5, 0.3, 0.15, 0.05];
  const ref = [0.4, 0.35, 0.2, 0.05];
  const kl = pi.reduce((s, p, i) => s + p * Math.log(p / ref[i]), 0);
  const expectation = (fn: (a: number, b: number) => number) =>
    pi.reduce((s, p, i) => s + p * fn(Math.log(p), Math.log(ref[i])), 0);
  assert.ok(Math.abs(expectation(k1Kl) - kl) < 1e-15);
  assert.ok(Math.abs(expectation(k3Kl) - kl) < 1e-15);
  assert.ok(Math.abs(expectation(k2Kl) - kl) < 0.1 * kl);
});

test('klPerToken zeroes masked tokens; the registry holds k1, k2, k3', () => {
  assert.deepEqual(Object.keys(klEstimators).sort(), [...KL_ESTIMATOR_NAMES].sort());
  const kl = klPerToken('k2', [0, -1, -2], [-1, -1, 0], [1, 1, 0]);
  assert.deepEqual(Array.from(kl), [0.5, 0, 0]);
  assert.throws(() => klPerToken('k1', [0, 1], [0]), /must have the same length/);
});

test('KL in the reward: −β·k1 on every loss token, the outcome on the last loss token', () => {
  // Sequence 0: 3 tokens, the last is a masked tool token, so the outcome goes on token 1.
  const seqStarts = seqStartsFromLengths([3, 2]);
  const logprobs = [-1, -2, -3, -0.5, -0.25];
  const refLogprobs = [-1.5, -1, -3, -0.5, -1.25];
  const mask = [1, 1, 0, 1, 1];
  const beta = 0.1;
  const rewards = klShapedTokenRewards({
    outcomeRewards: [1, -1],
    logprobs,
    refLogprobs,
    mask,
    seqStarts,
    coef: beta,
  });
  const expected = [-beta * 0.5, -beta * -1 + 1, 0, 0, -beta * 1 - 1];
  expected.forEach((e, t) => assert.ok(Math.abs(rewards[t] - e) < 1e-15, `token ${t}`));
  const returns = sequenceReturns(rewards, mask, seqStarts);
  assert.ok(Math.abs(returns[0] - (1 - beta * (0.5 - 1))) < 1e-15);
  assert.ok(Math.abs(returns[1] - (-1 - beta * 1)) < 1e-15);
  assert.throws(
    () =>
      klShapedTokenRewards({
        outcomeRewards: [1],
        logprobs: [0],
        refLogprobs: [0],
        mask: [0],
        seqStarts: [0, 1],
        coef: 1,
      }),
    /sequence 0 has a reward but no loss token/,
  );
});

test('KL in the reward per response: r − β·Σ_t m_t·KL_t, masked tokens left out, in token order', () => {
  const logprobs = [[-1, -2, -0.5], [-0.3]];
  const refLogprobs = [[-1.5, -1, -0.25], [-0.1]];
  const all = responseKlSums('k1', logprobs, refLogprobs, [[1, 1, 1], [1]]);
  // Summed left to right from 0, exactly as a reduce over the tokens would.
  assert.deepEqual(all, [0 + k1Kl(-1, -1.5) + k1Kl(-2, -1) + k1Kl(-0.5, -0.25), 0 + k1Kl(-0.3, -0.1)]);
  const masked = responseKlSums('k3', logprobs, refLogprobs, [[1, 0, 1], [0]]);
  assert.deepEqual(masked, [0 + k3Kl(-1, -1.5) + k3Kl(-0.5, -0.25), 0]);
  assert.deepEqual(klPenalizedRewards([1, 0], all, 0.5), [1 - 0.5 * all[0], 0 - 0.5 * all[1]]);
  assert.throws(() => responseKlSums('k1', logprobs, refLogprobs, [[1, 1, 1]]), /1 of masks/);
  assert.throws(() => klPenalizedRewards([1], all, 0.5), /1 rewards, 2 KL sums/);
});

test('cosine KL coefficient: β0 at 0, β0/2 halfway, 0 from N on, never increasing', () => {
  assert.equal(cosineKlCoef(0, 1e-3, 500), 1e-3);
  assert.ok(Math.abs(cosineKlCoef(250, 1e-3, 500) - 5e-4) < 1e-18);
  assert.equal(cosineKlCoef(500, 1e-3, 500), 0);
  assert.equal(cosineKlCoef(900, 1e-3, 500), 0);
  for (let s = 1; s < 520; s++) assert.ok(cosineKlCoef(s, 1e-3, 500) <= cosineKlCoef(s - 1, 1e-3, 500));
  assert.equal(klCoefAt(400, { schedule: 'constant', coef: 1e-3, annealSteps: 500 }), 1e-3);
  assert.equal(
    klCoefAt(250, { schedule: 'cosine', coef: 1e-3, annealSteps: 500 }),
    cosineKlCoef(250, 1e-3, 500),
  );
  assert.throws(() => cosineKlCoef(1, 1, 0), /totalSteps must be a positive integer \(got 0\)/);
});

test('reference refresh every M steps, never at step 0, never when M = 0', () => {
  const refreshed = [];
  for (let s = 0; s <= 10; s++) if (shouldRefreshReference(s, 4)) refreshed.push(s);
  assert.deepEqual(refreshed, [4, 8]);
  assert.equal(shouldRefreshReference(100, 0), false);
  assert.throws(() => shouldRefreshReference(1, -1), /everySteps must be an integer ≥ 0/);
});

test('the reference at a step is the last refresh at or before it (checkpoint ⌊t/M⌋·M), else the initial policy', () => {
  assert.deepEqual(
    [0, 1, 49].map((t) => referenceStepAt(t, 0)),
    [0, 0, 0],
  );
  // Steps 0–2 run against checkpoint 0; step 3 is the first after a refresh (shouldRefreshReference(3, 3)).
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((t) => referenceStepAt(t, 3)),
    [0, 0, 0, 3, 3, 3, 6],
  );
  for (let t = 0; t <= 12; t++) {
    const last = [...Array(t + 1).keys()].filter((u) => shouldRefreshReference(u, 4)).pop() ?? 0;
    assert.equal(referenceStepAt(t, 4), last);
  }
  assert.throws(() => referenceStepAt(2, -1), /everySteps must be an integer ≥ 0 \(got -1\)/);
});
