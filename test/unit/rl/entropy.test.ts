import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossEntropyFromLogits, entropyFromLogits, logSoftmaxAt, logSumExp } from './reference/entropy.ts';
import { sftLoss, sftLossFromLogits } from './reference/sftLoss.ts';

const near = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

test('entropy: log V for a uniform row, ~0 for a peaked one, −Σ p log p in general', () => {
  near(entropyFromLogits(new Float32Array(1000).fill(3)), Math.log(1000));
  assert.ok(entropyFromLogits(Float32Array.of(100, 0, 0)) < 1e-40);
  const row = [0.3, -1.2, 2.5, 0, 1.1];
  const lse = Math.log(row.reduce((s, z) => s + Math.exp(z), 0));
  const direct = -row.reduce((s, z) => s + Math.exp(z - lse) * (z - lse), 0);
  near(entropyFromLogits(row), direct);
  near(logSumExp(row), lse);
  assert.equal(entropyFromLogits([0, -Infinity, 0]), Math.LN2);
});

test('log-softmax and cross-entropy of one target; the shift by the max keeps huge logits finite', () => {
  near(logSoftmaxAt([0, Math.log(3)], 1), Math.log(0.75));
  near(crossEntropyFromLogits([1000, 1000 + Math.log(3)], 0), -Math.log(0.25));
  assert.throws(() => logSoftmaxAt([0, 1], 2), /token 2 is outside the row \(vocabulary 2\)/);
});

test('SFT loss: masked token-mean of −log π(target), from log-probs or from logits', () => {
  // Two sequences; the prompt token (mask 0) never counts.
  near(sftLoss([-5, -1, -2, -0.5], [0, 1, 1, 1], [0, 3, 4]), (1 + 2 + 0.5) / 3);
  near(sftLoss([-5, -1, -2, -0.5], [0, 1, 1, 1], [0, 3, 4], 'seq-mean-token-mean'), (1.5 + 0.5) / 2);
  const vocab = 3;
  const logits = Float64Array.of(0, 0, 0, 1, 2, 3, 5, 5, 5);
  const targets = [0, 2, 1];
  const mask = [1, 1, 0];
  const expected = (-logSoftmaxAt([0, 0, 0], 0) - logSoftmaxAt([1, 2, 3], 2)) / 2;
  near(sftLossFromLogits(logits, vocab, targets, mask, [0, 3]), expected);
  assert.throws(() => sftLossFromLogits(logits, 4, targets, mask, [0, 3]), /expected 3 × 4/);
});
