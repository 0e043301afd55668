import { test } from 'node:test';
import assert from 'node:assert/strict';
import { philox4x32, RNG_STREAM, uniform, uniformAt } from '../../../core/random.ts';

// Random123's tests/kat_vectors, the three "philox4x32 10" lines: counter (4 words), key (2), expected (4).
const KNOWN_ANSWERS: [number[], number[], number[]][] = [
  [
    [0, 0, 0, 0],
    [0, 0],
    [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  ],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    [0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

/** An independent Philox4x32-10 in BigInt, written from the paper's description. */
function philoxBigInt(counter: number[], key: number[]): number[] {
  const mask = 0xffffffffn;
  let [c0, c1, c2, c3] = counter.map(BigInt);
  let [k0, k1] = key.map(BigInt);
  for (let r = 0; r < 10; r++) {
    const p0 = 0xd2511f53n * c0;
    const p1 = 0xcd9e8d57n * c2;
    [c0, c1, c2, c3] = [(p1 >> 32n) ^ c1 ^ k0, p1 & mask, (p0 >> 32n) ^ c3 ^ k1, p0 & mask];
    k0 = (k0 + 0x9e3779b9n) & mask;
    k1 = (k1 + 0xbb67ae85n) & mask;
  }
  return [c0, c1, c2, c3].map(Number);
}

test('philox4x32-10 reproduces the Random123 known-answer vectors', () => {
  for (const [counter, key, expected] of KNOWN_ANSWERS) {
    assert.deepEqual(Array.from(philox4x32(counter, key)), expected);
  }
});

test('philox4x32-10 agrees with a BigInt implementation on 2000 pseudo-random blocks', () => {
  let x = 0x12345678;
  const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
  for (let i = 0; i < 2000; i++) {
    const counter = [next(), next(), next(), next()];
    const key = [next(), next()];
    assert.deepEqual(Array.from(philox4x32(counter, key)), philoxBigInt(counter, key));
  }
});

test('uniformAt is the documented function of one Philox block', () => {
  const words = philox4x32([7, 3, 2, 5], [42, RNG_STREAM.sampling]);
  const expected = ((words[0] >>> 5) * 2 ** 26 + (words[1] >>> 6)) / 2 ** 53;
  assert.equal(uniformAt(42, 5, 2, 3, 7), expected);
  assert.equal(uniform({ seed: 42, step: 5, prompt: 2, sample: 3, position: 7 }), expected);
});

test('uniformAt is pure, in [0, 1), and every coordinate and the stream change the draw', () => {
  const base = uniformAt(1, 2, 3, 4, 5);
  assert.equal(uniformAt(1, 2, 3, 4, 5), base);
  const variants = [
    uniformAt(2, 2, 3, 4, 5),
    uniformAt(1, 3, 3, 4, 5),
    uniformAt(1, 2, 4, 4, 5),
    uniformAt(1, 2, 3, 5, 5),
    uniformAt(1, 2, 3, 4, 6),
    uniformAt(1, 2, 3, 4, 5, RNG_STREAM.shuffle),
  ];
  assert.equal(new Set([base, ...variants]).size, 7);
  assert.equal(uniformAt(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff) < 1, true);
});

test('uniform draws pass mean, variance, chi-square and lag-1 correlation checks', () => {
  const n = 200_000;
  const bins = new Float64Array(100);
  let sum = 0;
  let sumSq = 0;
  let lagProduct = 0;
  let previous = 0;
  for (let i = 0; i < n; i++) {
    const u = uniformAt(2024, 7, i % 97, i % 8, i);
    assert.ok(u >= 0 && u < 1);
    bins[Math.floor(u * 100)]++;
    sum += u;
    sumSq += u * u;
    if (i > 0) lagProduct += (u - 0.5) * (previous - 0.5);
    previous = u;
  }
  const mean = sum / n;
  const variance = sumSq / n - mean * mean;
  // Standard errors: mean 1/sqrt(12n) ≈ 6.5e-4, so 5e-3 is > 7 sigma; same spirit below.
  assert.ok(Math.abs(mean - 0.5) < 5e-3, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1 / 12) < 2e-3, `variance ${variance}`);
  const expected = n / 100;
  let chi2 = 0;
  for (const count of bins) chi2 += (count - expected) ** 2 / expected;
  // 99 degrees of freedom: the 99.99% quantile is about 153.
  assert.ok(chi2 < 153, `chi-square ${chi2}`);
  const correlation = lagProduct / (n - 1) / (1 / 12);
  assert.ok(Math.abs(correlation) < 0.015, `lag-1 correlation ${correlation}`);
});

test('uniformAt rejects coordinates outside uint32, naming the coordinate', () => {
  assert.throws(() => uniformAt(-1, 0, 0, 0, 0), /seed must be an integer in \[0, 2\^32\) \(got -1\)/);
  assert.throws(() => uniformAt(0, 1.5, 0, 0, 0), /step must be/);
  assert.throws(() => uniformAt(0, 0, 0, 0, 2 ** 32), /position must be/);
});
