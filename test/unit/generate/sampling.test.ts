import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniformAt } from '../../../core/random.ts';
import { expNonPositive } from '../../../core/generate/deterministicExp.ts';
import {
  argmax,
  sampleToken,
  samplingSupport,
  tokenLogprob,
  type SamplingParams,
} from '../../../core/generate/sampling.ts';

/** Deterministic normal-ish logits from the project RNG (Box–Muller). */
function randomLogits(vocab: number, scale: number, seed: number): Float32Array {
  const row = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) {
    const u1 = uniformAt(seed, 0, 0, 0, 2 * i) || 1e-12;
    const u2 = uniformAt(seed, 0, 0, 0, 2 * i + 1);
    row[i] = scale * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return row;
}

/**
 * Hugging Face's warpers written out plainly (TemperatureLogitsWarper, TopKLogitsWarper: remove scores
 * below the k-th largest; TopPLogitsWarper: sort ascending, remove where the cumulative probability is
 * ≤ 1 − p, always keep the most likely token), with full sorts and Math.exp.
 */
function hfSupport(logits: Float32Array, params: SamplingParams): Map<number, number> {
  const scores = Array.from(logits, (z) => z / params.temperature);
  const k = params.topK ?? 0;
  if (k > 0 && k < scores.length) {
    const kth = [...scores].sort((a, b) => b - a)[k - 1];
    for (let i = 0; i < scores.length; i++) if (scores[i] < kth) scores[i] = -Infinity;
  }
  const softmax = (s: number[]) => {
    const max = s.reduce((m, v) => (v > m ? v : m), -Infinity);
    const e = s.map((v) => Math.exp(v - max));
    const total = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / total);
  };
  const p = params.topP ?? 1;
  if (p < 1) {
    const probs = softmax(scores);
    const ascending = probs.map((_, i) => i).sort((a, b) => probs[a] - probs[b] || b - a);
    let cumulative = 0;
    ascending.forEach((id, rank) => {
      cumulative += probs[id];
      if (cumulative <= 1 - p && rank < ascending.length - 1) scores[id] = -Infinity;
    });
  }
  const probs = softmax(scores);
  const support = new Map<number, number>();
  probs.forEach((q, i) => {
    if (scores[i] > -Infinity) support.set(i, q);
  });
  return support;
}

function assertSupportMatches(logits: Float32Array, params: SamplingParams, label: string): void {
  const expected = hfSupport(logits, params);
  const { ids, probs } = samplingSupport(logits, params);
  // Tokens > 40 nats below the top one are dropped on purpose (EXP_CUTOFF): probability < 5e-18.
  const significant = [...expected].filter(([, q]) => q > 5e-18).map(([id]) => id);
  const kept = new Set(ids);
  for (const id of significant) assert.ok(kept.has(id), `token ${id} missing, ${label}`);
  ids.forEach((id, c) => {
    assert.ok(expected.has(id), `token ${id} should have been cut, ${label}`);
    assert.ok(Math.abs(probs[c] - expected.get(id)!) < 1e-12, `prob of ${id}, ${label}`);
  });
}

test('expNonPositive matches Math.exp to 2e-13 relative and is exact at 0', () => {
  assert.equal(expNonPositive(0), 1);
  assert.equal(expNonPositive(-800), 0);
  for (let i = 0; i < 100_000; i++) {
    const x = -uniformAt(1, 0, 0, 0, i) * (i % 2 ? 700 : 50);
    const relative = Math.abs(expNonPositive(x) - Math.exp(x)) / Math.exp(x);
    assert.ok(relative < 2e-13, `exp(${x}): relative error ${relative}`);
  }
});

test('greedy picks the argmax, lowest index on ties, with the T=1 log-prob', () => {
  const logits = Float32Array.of(1, 3, 0.5, 3, -2);
  assert.equal(argmax(logits), 1);
  const token = sampleToken(logits, { temperature: 0, rawLogprob: true }, 0.99);
  assert.equal(token.token, 1);
  const expected = 3 - Math.log([1, 3, 0.5, 3, -2].reduce((s, z) => s + Math.exp(z), 0));
  assert.ok(Math.abs(token.logprob - expected) < 1e-14);
  assert.equal(token.samplingLogprob, 0);
  assert.equal(token.rawLogprob, token.logprob);
});

test('a vanishing temperature samples the argmax', () => {
  const logits = randomLogits(1000, 2, 3);
  for (let i = 0; i < 20; i++) {
    assert.equal(sampleToken(logits, { temperature: 1e-6 }, uniformAt(9, 0, 0, 0, i)).token, argmax(logits));
  }
});

test('the kept set and probabilities equal plain Hugging Face warpers (temperature, top-k, top-p)', () => {
  let seed = 10;
  for (const vocab of [2, 17, 300, 2000]) {
    for (const temperature of [0.3, 0.6, 1, 1.7]) {
      for (const topK of [0, 1, 5, 40]) {
        for (const topP of [1, 0.95, 0.5, 0.1]) {
          const logits = randomLogits(vocab, 2.5, seed++);
          assertSupportMatches(
            logits,
            { temperature, topK, topP },
            `V=${vocab} T=${temperature} k=${topK} p=${topP}`,
          );
        }
      }
    }
  }
});

test('top-k keeps every token tied with the k-th largest logit, as HF does', () => {
  const { ids } = samplingSupport(Float32Array.of(5, 1, 5, 5, 0), { temperature: 1, topK: 2 });
  assert.deepEqual(Array.from(ids), [0, 2, 3]);
});

test('top-p on a 151,936-token row: peaked (few candidates) and flat (whole row) both match HF', () => {
  const flat = randomLogits(151_936, 0.5, 77);
  assertSupportMatches(flat, { temperature: 1, topP: 0.9 }, 'flat');
  const peaked = randomLogits(151_936, 2, 78);
  for (let j = 0; j < 30; j++) peaked[(j * 7919) % peaked.length] = 18 + j * 0.1;
  assertSupportMatches(peaked, { temperature: 0.6, topP: 0.95 }, 'peaked');
  assertSupportMatches(peaked, { temperature: 1, topK: 20, topP: 0.7 }, 'peaked top-k');
});

test('inverse-CDF sampling with stratified draws reproduces the probabilities to ±1 count', () => {
  const logits = randomLogits(50, 1.5, 5);
  for (const params of [
    { temperature: 1 },
    { temperature: 0.7, topK: 10 },
    { temperature: 1.2, topP: 0.8 },
  ]) {
    const { ids, probs } = samplingSupport(logits, params);
    const n = 20_000;
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const { token } = sampleToken(logits, params, (i + 0.5) / n);
      counts.set(token, (counts.get(token) ?? 0) + 1);
    }
    ids.forEach((id, c) => {
      assert.ok(
        Math.abs((counts.get(id) ?? 0) - probs[c] * n) <= 1.001,
        `token ${id} ${JSON.stringify(params)}`,
      );
    });
    assert.equal(
      [...counts.keys()].every((id) => ids.includes(id)),
      true,
    );
  }
});

test('the block-sum draw (no top-k/top-p) picks the same tokens as a plain scan, across many blocks', () => {
  const logits = randomLogits(5000, 1.5, 12);
  const n = 20_000;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const u = (i + 0.5) / n;
    const { token } = sampleToken(logits, { temperature: 1 }, u);
    // topK = vocabulary size keeps every token but takes the candidate-list scan.
    assert.equal(token, sampleToken(logits, { temperature: 1, topK: 5000 }, u).token, `u = ${u}`);
    counts.set(token, (counts.get(token) ?? 0) + 1);
  }
  const { ids, probs } = samplingSupport(logits, { temperature: 1 });
  ids.forEach((id, c) => assert.ok(Math.abs((counts.get(id) ?? 0) - probs[c] * n) <= 1.001, `token ${id}`));
  assert.equal(sampleToken(logits, { temperature: 1 }, 1 - 2 ** -53).token, ids[ids.length - 1]);
});

test('log-probs: policy at T over the full row, the truncated sampling distribution, and raw T=1', () => {
  const logits = randomLogits(500, 2, 6);
  const reference = (t: number, token: number) => {
    const scaled = Array.from(logits, (z) => z / t);
    const max = Math.max(...scaled);
    return scaled[token] - max - Math.log(scaled.reduce((s, v) => s + Math.exp(v - max), 0));
  };
  for (const params of [
    { temperature: 1, rawLogprob: true },
    { temperature: 0.6, topP: 0.9, rawLogprob: true },
    { temperature: 1.3, topK: 7, rawLogprob: true },
  ]) {
    const support = samplingSupport(logits, params);
    for (let i = 0; i < 30; i++) {
      const s = sampleToken(logits, params, uniformAt(2, 0, 0, 0, i));
      assert.ok(Math.abs(s.logprob - reference(params.temperature, s.token)) < 1e-12);
      assert.ok(Math.abs(s.rawLogprob! - reference(1, s.token)) < 1e-12);
      assert.ok(Math.abs(s.logprob - tokenLogprob(logits, s.token, params.temperature)) < 1e-12);
      const q = support.probs[support.ids.indexOf(s.token)];
      assert.ok(Math.abs(s.samplingLogprob - Math.log(q)) < 1e-12);
      assert.ok(s.samplingLogprob >= s.logprob - 1e-12, 'truncation only raises the kept probabilities');
    }
  }
});

test('tokens more than 40 nats below the max are never candidates but barely move the log-probs', () => {
  const logits = Float32Array.of(0, -45, -10, -100);
  const { ids } = samplingSupport(logits, { temperature: 1 });
  assert.deepEqual(Array.from(ids), [0, 2]);
  const exact = -Math.log(1 + Math.exp(-45) + Math.exp(-10) + Math.exp(-100));
  assert.ok(Math.abs(sampleToken(logits, { temperature: 1 }, 0.5).logprob - exact) < 1e-15);
});

test('the same inputs give the same token; bad inputs are refused with the parameter named', () => {
  const logits = randomLogits(100, 2, 8);
  const params = { temperature: 0.8, topP: 0.9, topK: 30 };
  assert.deepEqual(sampleToken(logits, params, 0.123), sampleToken(logits, params, 0.123));
  assert.throws(
    () => sampleToken(logits, { temperature: -1 }, 0.5),
    /temperature must be a finite number ≥ 0/,
  );
  assert.throws(() => sampleToken(logits, { temperature: 1, topP: 0 }, 0.5), /topP must be in \(0, 1\]/);
  assert.throws(() => sampleToken(logits, { temperature: 1, topK: 1.5 }, 0.5), /topK must be an integer/);
  assert.throws(() => sampleToken(logits, { temperature: 1 }, 1), /uniform draw must be in \[0, 1\)/);
  assert.throws(() => sampleToken(Float32Array.of(0, NaN), { temperature: 1 }, 0.5), /logit 1 is NaN/);
  assert.throws(
    () => sampleToken(Float32Array.of(-Infinity), { temperature: 1 }, 0.5),
    /every logit is -Infinity/,
  );
});
