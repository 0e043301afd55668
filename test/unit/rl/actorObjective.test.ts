import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actorObjective } from './reference/actorObjective.ts';
import { aggregateLoss } from '../../../core/rl/aggregation.ts';
import { k3Kl } from '../../../core/rl/kl.ts';
import { ppoClipLoss } from '../../../core/rl/policyLoss.ts';

const seqStarts = [0, 3, 7];
const oldLogprobs = [-1, -0.5, -2, -0.1, -0.7, -1.5, -0.9];
const logprobs = [-0.8, -0.6, -2.4, -0.1, -0.5, -1.6, -0.95];
const refLogprobs = [-1.1, -0.5, -2.2, -0.3, -0.7, -1.2, -0.9];
const advantages = [0.8, 0.8, 0.8, -1.2, -1.2, -1.2, -1.2];
const entropies = [1.5, 0.2, 2.1, 0.9, 0.4, 1.1, 0.05];
const mask = [1, 1, 1, 0, 1, 1, 1];
const base = { logprobs, oldLogprobs, advantages, mask, seqStarts, clip: { low: 0.2, high: 0.28 } };

test('the objective is pg − c_H·entropy + β·kl, each aggregated with the same mode', () => {
  const aggMode = 'seq-mean-token-mean' as const;
  const r = actorObjective({
    ...base,
    aggMode,
    entropies,
    entropyCoef: 0.01,
    klLoss: { estimator: 'k3', coef: 0.001, refLogprobs },
  });
  const pg = ppoClipLoss({ ...base, aggMode }).loss;
  const entropy = aggregateLoss(entropies, mask, seqStarts, aggMode);
  const kl = aggregateLoss(
    logprobs.map((l, t) => (mask[t] ? k3Kl(l, refLogprobs[t]) : 0)),
    mask,
    seqStarts,
    aggMode,
  );
  assert.equal(r.pgLoss, pg);
  assert.ok(Math.abs(r.entropy - entropy) < 1e-15);
  assert.ok(Math.abs(r.klLoss - kl) < 1e-15);
  assert.ok(Math.abs(r.loss - (pg - 0.01 * entropy + 0.001 * kl)) < 1e-15);
  assert.ok(r.klLoss > 0);
});

test('policy = sampling = reference ⇒ KL terms and clip fractions are 0', () => {
  const r = actorObjective({
    ...base,
    logprobs: oldLogprobs,
    aggMode: 'token-mean',
    entropyCoef: 0,
    klLoss: { estimator: 'k3', coef: 0.001, refLogprobs: oldLogprobs },
  });
  assert.equal(r.klLoss, 0);
  assert.equal(r.approxKl, 0);
  assert.equal(r.clipFrac, 0);
  assert.equal(r.entropy, 0);
});

test('a missing input that a coefficient needs is named', () => {
  assert.throws(
    () => actorObjective({ ...base, aggMode: 'token-mean', entropyCoef: 0.01 }),
    /entropyCoef is 0.01 but no per-token entropies were given/,
  );
  assert.throws(
    () =>
      actorObjective({
        ...base,
        aggMode: 'token-mean',
        entropyCoef: 0,
        klLoss: { estimator: 'k1', coef: 1, refLogprobs: [0] },
      }),
    /refLogprobs has 1 entries, the layout has 7 tokens/,
  );
});
