import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateLoss, LOSS_AGG_MODES } from '../../../core/rl/aggregation.ts';
import {
  actorLoss,
  ppoClipLoss,
  ppoClipTokenGradient,
  ppoClipTokenLoss,
  type ClipParams,
} from '../../../core/rl/policyLoss.ts';
import { seqStartsFromLengths } from '../../../core/rl/tokens.ts';

const PPO: ClipParams = { low: 0.2, high: 0.2 };
const near = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

/** A fixed pseudo-random batch: 3 sequences of lengths 4, 2, 5 with some masked tokens. */
function batch(shift: (t: number) => number) {
  const seqStarts = seqStartsFromLengths([4, 2, 5]);
  const n = 11;
  const oldLogprobs = Array.from({ length: n }, (_, t) => -0.3 - 0.2 * ((t * 7) % 5));
  const logprobs = oldLogprobs.map((v, t) => v + shift(t));
  const advantages = [1, 1, 1, 1, -0.5, -0.5, 2, 2, 2, 2, 2];
  const mask = [0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1];
  return { seqStarts, oldLogprobs, logprobs, advantages, mask };
}

test('policy = sampling policy ⇒ ratio 1, no clipping, approx KL 0, loss = −mean advantage', () => {
  const b = batch(() => 0);
  for (const aggMode of LOSS_AGG_MODES) {
    const r = ppoClipLoss({ ...b, clip: { low: 0.2, high: 0.28, dualClip: 3 }, aggMode, maxLength: 8 });
    assert.equal(r.clipFrac, 0);
    assert.equal(r.clipFracHigh, 0);
    assert.equal(r.clipFracLow, 0);
    assert.equal(r.dualClipFrac, 0);
    assert.equal(r.approxKl, 0);
    assert.equal(r.approxKlK3, 0);
    const minusAdvantage = b.advantages.map((a) => -a);
    near(r.loss, aggregateLoss(minusAdvantage, b.mask, b.seqStarts, aggMode, 8));
  }
});

test('each clipping region, worked by hand (ε_low 0.2, ε_high 0.28, dual clip 3)', () => {
  const clip = { low: 0.2, high: 0.28, dualClip: 3 };
  const at = (ratio: number, advantage: number) => ppoClipTokenLoss(Math.log(ratio), 0, advantage, clip);
  // A > 0: ratio 1.25 is inside 1 + 0.28 (clip-higher lets it through), 1.5 is clipped to 1.28.
  near(at(1.25, 2).loss, -2 * 1.25);
  assert.equal(at(1.25, 2).clippedHigh, false);
  near(at(1.5, 2).loss, -2 * 1.28);
  assert.equal(at(1.5, 2).clippedHigh, true);
  // A > 0 and a small ratio: the unclipped −A·r is larger, no clip.
  near(at(0.5, 2).loss, -2 * 0.5);
  assert.equal(at(0.5, 2).clippedLow, false);
  // A < 0: ratio 0.5 floors at 0.8; ratio 2 is unclipped; ratio 5 hits the dual clip −A·3.
  near(at(0.5, -1).loss, 0.8);
  assert.equal(at(0.5, -1).clippedLow, true);
  near(at(2, -1).loss, 2);
  near(at(5, -1).loss, 3);
  assert.equal(at(5, -1).dualClipped, true);
  // Without a dual clip the loss keeps growing.
  near(ppoClipTokenLoss(Math.log(5), 0, -1, PPO).loss, 5);
  // Plain PPO: ratio 1.25 with A > 0 is clipped at 1.2.
  assert.equal(ppoClipTokenLoss(Math.log(1.25), 0, 2, PPO).clippedHigh, true);
});

test('the gradient is −A·r inside the trust region and exactly 0 where a clip is active (finite differences)', () => {
  const clip = { low: 0.2, high: 0.28, dualClip: 3 };
  const h = 1e-6;
  for (const advantage of [1.5, -0.7]) {
    for (let logRatio = -1; logRatio <= 2; logRatio += 0.013) {
      const ratio = Math.exp(logRatio);
      const analytic = ppoClipTokenGradient(logRatio, 0, advantage, clip);
      const numeric =
        (ppoClipTokenLoss(logRatio + h, 0, advantage, clip).loss -
          ppoClipTokenLoss(logRatio - h, 0, advantage, clip).loss) /
        (2 * h);
      const nearBoundary = [1 - clip.low, 1 + clip.high, clip.dualClip].some(
        (b) => Math.abs(ratio - b) < 1e-4,
      );
      if (!nearBoundary) near(analytic, numeric, 1e-6);
      const outside = advantage > 0 ? ratio > 1 + clip.high : ratio < 1 - clip.low || ratio > clip.dualClip;
      if (outside) assert.equal(analytic, 0, `ratio ${ratio}, A ${advantage}`);
      else assert.ok(Math.abs(analytic) > 0);
    }
  }
});

test('metrics: clip fractions per side, verl ppo_kl (k1) and its k3 version, over unmasked tokens', () => {
  // Token shifts: +0.5 (ratio 1.65) on A>0 tokens clips high; −0.5 on A<0 tokens clips low.
  const b = batch((t) => (t === 4 || t === 5 ? -0.5 : t === 1 ? 0.5 : 0));
  const r = ppoClipLoss({ ...b, clip: PPO, aggMode: 'token-mean' });
  const unmasked = 9;
  near(r.clipFracHigh, 1 / unmasked);
  near(r.clipFracLow, 2 / unmasked);
  near(r.clipFrac, 3 / unmasked);
  near(r.approxKl, (-0.5 + 0.5 + 0.5) / unmasked);
  const k3 = (x: number) => Math.exp(x) - x - 1;
  near(r.approxKlK3, (k3(0.5) + 2 * k3(-0.5)) / unmasked);
});

test('a masked token changes nothing, whatever its values', () => {
  const b = batch((t) => 0.1 * Math.sin(t));
  const base = ppoClipLoss({ ...b, clip: PPO, aggMode: 'seq-mean-token-mean' });
  const changed = { ...b, logprobs: [...b.logprobs], advantages: [...b.advantages] };
  changed.logprobs[7] += 5;
  changed.advantages[0] = -100;
  const other = ppoClipLoss({ ...changed, clip: PPO, aggMode: 'seq-mean-token-mean' });
  assert.equal(other.loss, base.loss);
  assert.equal(other.clipFrac, base.clipFrac);
  assert.equal(other.approxKl, base.approxKl);
});

test('loss aggregation modes, worked by hand', () => {
  // Sequence 0: losses [1, 2, 3] mask [1, 1, 0]; sequence 1: [4, 6] mask [1, 1].
  const losses = [1, 2, 3, 4, 6];
  const mask = [1, 1, 0, 1, 1];
  const seqStarts = [0, 3, 5];
  near(aggregateLoss(losses, mask, seqStarts, 'token-mean'), 13 / 4);
  near(aggregateLoss(losses, mask, seqStarts, 'seq-mean-token-mean'), (1.5 + 5) / 2);
  near(aggregateLoss(losses, mask, seqStarts, 'seq-mean-token-sum'), (3 + 10) / 2);
  near(aggregateLoss(losses, mask, seqStarts, 'seq-mean-token-sum-norm', 8), (3 + 10) / 2 / 8);
  // A sequence with no loss token is left out of the sequence mean (verl 0.9), in every seq-mean mode.
  near(aggregateLoss([1, 2, 5], [0, 0, 1], [0, 2, 3], 'seq-mean-token-mean'), 5);
  near(aggregateLoss([1, 2, 5, 1], [0, 0, 1, 1], [0, 2, 4], 'seq-mean-token-sum'), 6);
  near(aggregateLoss([1, 2, 5, 1], [0, 0, 1, 1], [0, 2, 4], 'seq-mean-token-sum-norm', 4), 1.5);
  assert.equal(aggregateLoss([1], [0], [0, 1], 'token-mean'), 0);
  assert.throws(() => aggregateLoss(losses, mask, seqStarts, 'seq-mean-token-sum-norm'), /needs maxLength/);
  assert.throws(
    () => aggregateLoss([1, 2], [1], [0, 2], 'token-mean'),
    /mask has 1 entries, the layout has 2 tokens/,
  );
});

test('actor loss = pg − c_H·entropy + β·kl_loss; bad clip parameters are named', () => {
  near(
    actorLoss({ policyLoss: 0.5, entropy: 2, entropyCoef: 0.01, klLoss: 0.3, klCoef: 0.001 }),
    0.5 - 0.02 + 0.0003,
  );
  const b = batch(() => 0);
  assert.throws(
    () => ppoClipLoss({ ...b, clip: { low: 1.2, high: 0.2 }, aggMode: 'token-mean' }),
    /clip.low must be in \[0, 1\)/,
  );
  assert.throws(
    () => ppoClipLoss({ ...b, clip: { low: 0.2, high: 0.2, dualClip: 1 }, aggMode: 'token-mean' }),
    /clip.dualClip must be > 1/,
  );
});
