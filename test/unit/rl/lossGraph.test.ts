/**
 * The train-step graph's actor loss against the plain-number references (actorObjective.ts, itself
 * checked against verl): values to 1e-6 for every aggregation mode and KL estimator, gradients with
 * respect to the log-probs equal to central finite differences of the reference loss, and the invariants.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executable, Graph, grad } from '../../../core/graph/index.ts';
import type { Feeds } from '../../../core/graph/index.ts';
import { actorObjective } from './reference/actorObjective.ts';
import { LOSS_AGG_MODES } from '../../../core/rl/aggregation.ts';
import type { LossAggMode } from '../../../core/rl/aggregation.ts';
import type { KlEstimatorName } from '../../../core/rl/kl.ts';
import type { ClipParams } from '../../../core/rl/policyLoss.ts';
import { lossNormalizer } from '../../../core/rl/lossGraph.ts';
import { actorLossOnTokens, lossInputs, lossMetrics } from '../../../core/train/policyLossGraph.ts';

const B = 4;
const N = 6;
const MAX_LENGTH = 8;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

interface Data {
  logprobs: Float64Array;
  old: Float64Array;
  ref: Float64Array;
  adv: Float64Array;
  mask: Float64Array;
  entropy: Float64Array;
}

function randomData(seed: number, spread = 0.5): Data {
  const r = rng(seed);
  const n = B * N;
  const logprobs = Float64Array.from({ length: n }, () => -0.2 - 2 * r());
  const old = logprobs.map((x) => x + (r() - 0.5) * spread);
  const ref = logprobs.map((x) => x + (r() - 0.5) * spread);
  // Per-sequence advantages of both signs, repeated over the sequence's tokens.
  const rowAdv = Array.from({ length: B }, () => (r() - 0.5) * 3);
  const adv = Float64Array.from({ length: n }, (_, i) => rowAdv[Math.floor(i / N)]);
  // Holes in the mask, and row 2 fully masked (a filtered response).
  const mask = Float64Array.from({ length: n }, (_, i) => (Math.floor(i / N) === 2 || r() < 0.25 ? 0 : 1));
  const entropy = Float64Array.from({ length: n }, () => 2 * r());
  return { logprobs, old, ref, adv, mask, entropy };
}

interface Case {
  mode: LossAggMode;
  clip: ClipParams;
  kl?: KlEstimatorName;
  entropyCoef: number;
}

async function graphFor(c: Case) {
  const g = new Graph('actorLoss');
  const logProbs = g.input('logprobs', 'float64', ['batch', 'n']);
  const entropy = g.input('entropy', 'float64', ['batch', 'n']);
  const { loss, metrics } = actorLossOnTokens(g, logProbs, entropy, {
    clip: c.clip,
    aggMode: c.mode,
    klLoss: c.kl ? { estimator: c.kl } : undefined,
    entropyBonus: c.entropyCoef !== 0,
  });
  const [dLogprobs] = grad(loss, [logProbs]);
  g.output(loss, 'loss');
  g.output(dLogprobs, 'd_logprobs');
  for (const [name, v] of Object.entries(metrics)) g.output(v, name);
  return Executable.compile(g);
}

function feeds(c: Case, d: Data, klCoef: number): Feeds {
  const t = (data: Float64Array) => ({ data, dims: [B, N] });
  const s = (x: number) => ({ data: new Float64Array([x]), dims: [] });
  const counts = Array.from({ length: B }, (_, b) =>
    d.mask.subarray(b * N, (b + 1) * N).reduce((a, x) => a + x, 0),
  );
  const f: Feeds = {
    logprobs: t(d.logprobs),
    entropy: t(d.entropy),
    [lossInputs.oldLogprobs]: t(d.old),
    [lossInputs.advantages]: t(d.adv),
    [lossInputs.lossMask]: t(d.mask),
    [lossInputs.lossNorm]: s(lossNormalizer(counts, c.mode, MAX_LENGTH)),
  };
  if (c.kl) {
    f[lossInputs.refLogprobs] = t(d.ref);
    f[lossInputs.klCoef] = s(klCoef);
  }
  if (c.entropyCoef !== 0) f[lossInputs.entropyCoef] = s(c.entropyCoef);
  return f;
}

function reference(c: Case, d: Data, logprobs: Float64Array, klCoef: number) {
  return actorObjective({
    logprobs,
    oldLogprobs: d.old,
    advantages: d.adv,
    mask: d.mask,
    seqStarts: Array.from({ length: B + 1 }, (_, b) => b * N),
    clip: c.clip,
    aggMode: c.mode,
    maxLength: MAX_LENGTH,
    entropies: d.entropy,
    entropyCoef: c.entropyCoef,
    klLoss: c.kl ? { estimator: c.kl, coef: klCoef, refLogprobs: d.ref } : undefined,
  });
}

const cases: Case[] = [
  ...LOSS_AGG_MODES.map((mode) => ({ mode, clip: { low: 0.2, high: 0.2 }, entropyCoef: 0 })),
  { mode: 'token-mean', clip: { low: 0.2, high: 0.28 }, kl: 'k3', entropyCoef: 0.01 },
  { mode: 'seq-mean-token-mean', clip: { low: 0.2, high: 0.2, dualClip: 3 }, kl: 'k1', entropyCoef: 0 },
  { mode: 'seq-mean-token-sum', clip: { low: 0.1, high: 0.3 }, kl: 'k2', entropyCoef: 0.005 },
];

for (const c of cases) {
  const label = `${c.mode}, clip ${c.clip.low}/${c.clip.high}${c.clip.dualClip ? ` dual ${c.clip.dualClip}` : ''}, kl ${c.kl ?? 'none'}, entropy ${c.entropyCoef}`;
  test(`actor loss graph = reference (value, metrics, gradient by finite differences): ${label}`, async () => {
    const exec = await graphFor(c);
    const klCoef = 0.05;
    // A wide spread of old log-probs puts tokens on both sides of both clip bounds.
    const d = randomData(c.mode.length * 7 + (c.kl?.length ?? 0), 1.2);
    const out = await exec.run(feeds(c, d, klCoef));
    const ref = reference(c, d, d.logprobs, klCoef);
    const close = (got: number, want: number, what: string) =>
      assert.ok(Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${what}: ${got} vs ${want}`);
    close(Number(out.loss.data[0]), ref.loss, 'loss');
    close(Number(out[lossMetrics.pgLoss].data[0]), ref.pgLoss, 'pg_loss');
    close(Number(out[lossMetrics.entropy].data[0]), ref.entropy, 'entropy');
    if (c.kl) close(Number(out[lossMetrics.klLoss].data[0]), ref.klLoss, 'kl_loss');
    const tokens = Number(out[lossMetrics.tokens].data[0]);
    close(Number(out[lossMetrics.clipHighSum].data[0]) / tokens, ref.clipFracHigh, 'clip high');
    close(Number(out[lossMetrics.clipLowSum].data[0]) / tokens, ref.clipFracLow, 'clip low');
    close(Number(out[lossMetrics.dualClipSum].data[0]) / tokens, ref.dualClipFrac, 'dual clip');
    close(Number(out[lossMetrics.approxKlSum].data[0]) / tokens, ref.approxKl, 'approx kl');
    close(Number(out[lossMetrics.approxKlK3Sum].data[0]) / tokens, ref.approxKlK3, 'approx kl k3');
    assert.ok(ref.clipFracHigh + ref.clipFracLow > 0, 'some tokens are clipped');
    // ∂loss/∂logprobs: graph backward vs central differences of the reference loss.
    const g = out.d_logprobs.data as Float64Array;
    const h = 1e-6;
    for (let i = 0; i < g.length; i++) {
      const plus = d.logprobs.slice();
      const minus = d.logprobs.slice();
      plus[i] += h;
      minus[i] -= h;
      const fd = (reference(c, d, plus, klCoef).loss - reference(c, d, minus, klCoef).loss) / (2 * h);
      assert.ok(
        Math.abs(g[i] - fd) <= 1e-6 * Math.max(1, Math.abs(fd)),
        `d loss/d logprob[${i}]: ${g[i]} vs ${fd}`,
      );
    }
  });
}

test('policy = sampling = reference: ratio 1, KL 0, clip fraction 0; a masked token changes nothing', async () => {
  const c: Case = { mode: 'token-mean', clip: { low: 0.2, high: 0.2 }, kl: 'k3', entropyCoef: 0 };
  const exec = await graphFor(c);
  const d = randomData(99);
  d.old = d.logprobs.slice();
  d.ref = d.logprobs.slice();
  const out = await exec.run(feeds(c, d, 0.1));
  const zero = (name: string) => assert.ok(Number(out[name].data[0]) === 0, `${name} = ${out[name].data[0]}`);
  zero(lossMetrics.approxKlSum);
  zero(lossMetrics.approxKlK3Sum);
  zero(lossMetrics.klLoss);
  zero(lossMetrics.clipHighSum);
  zero(lossMetrics.clipLowSum);
  // With ratio 1 the per-token gradient is −A·norm exactly (the policy-gradient estimator).
  const g = out.d_logprobs.data as Float64Array;
  const tokens = d.mask.reduce((a, x) => a + x, 0);
  for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - (-d.adv[i] * d.mask[i]) / tokens) < 1e-12);
  // Changing anything at a masked position leaves loss and metrics unchanged.
  const masked = d.mask.findIndex((m) => m === 0);
  const e = {
    ...d,
    logprobs: d.logprobs.slice(),
    old: d.old.slice(),
    adv: d.adv.slice(),
    entropy: d.entropy.slice(),
  };
  e.logprobs[masked] -= 3;
  e.old[masked] += 1;
  e.adv[masked] = 50;
  e.entropy[masked] = 9;
  const out2 = await exec.run(feeds(c, e, 0.1));
  assert.equal(Number(out2.loss.data[0]), Number(out.loss.data[0]));
  assert.equal(Number(out2[lossMetrics.entropy].data[0]), Number(out[lossMetrics.entropy].data[0]));
});

test('clipping stops the gradient exactly outside [1−ε_low, 1+ε_high], for the right sign of advantage', async () => {
  const c: Case = { mode: 'token-mean', clip: { low: 0.2, high: 0.28 }, entropyCoef: 0 };
  const exec = await graphFor(c);
  const d = randomData(5);
  d.mask.fill(1);
  // Ratios per column: 0.5, 0.9, 1.1, 1.5, 1.27, 0.81 — advantages +1 on even rows, −1 on odd rows.
  const ratios = [0.5, 0.9, 1.1, 1.5, 1.27, 0.81];
  for (let b = 0; b < B; b++)
    for (let t = 0; t < N; t++) {
      const i = b * N + t;
      d.old[i] = d.logprobs[i] - Math.log(ratios[t]);
      d.adv[i] = b % 2 === 0 ? 1 : -1;
    }
  const out = await exec.run(feeds(c, d, 0));
  const g = out.d_logprobs.data as Float64Array;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < N; t++) {
      const r = ratios[t];
      const a = d.adv[b * N + t];
      // A > 0 clips above 1+ε_high only; A < 0 clips below 1−ε_low only.
      const clipped = (a > 0 && r > 1.28) || (a < 0 && r < 0.8);
      const want = clipped ? 0 : (-a * r) / (B * N);
      assert.ok(Math.abs(g[b * N + t] - want) < 1e-12, `row ${b} ratio ${r}: ${g[b * N + t]} vs ${want}`);
    }
});
