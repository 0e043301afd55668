/**
 * Softmax quantities of one logits row, in float64 with Math.exp: references for the graph's
 * log-softmax, entropy and cross-entropy (accuracy over speed; sampling has its own fast path).
 */

function maxOf(row: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) {
    if (row[i] !== row[i]) throw new RangeError(`softmax: logit ${i} is NaN`);
    if (row[i] > max) max = row[i];
  }
  if (max === -Infinity) throw new RangeError('softmax: the row is empty or all -Infinity');
  return max;
}

/** log Σ_i exp(z_i), shifted by the max for stability. */
export function logSumExp(row: ArrayLike<number>): number {
  const max = maxOf(row);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return max + Math.log(sum);
}

/** log softmax(z)[token]. */
export function logSoftmaxAt(row: ArrayLike<number>, token: number): number {
  if (!Number.isInteger(token) || token < 0 || token >= row.length) {
    throw new RangeError(`logSoftmaxAt: token ${token} is outside the row (vocabulary ${row.length})`);
  }
  return row[token] - logSumExp(row);
}

/** Cross-entropy of the target token: −log softmax(z)[target]. */
export function crossEntropyFromLogits(row: ArrayLike<number>, target: number): number {
  return -logSoftmaxAt(row, target);
}

/** Entropy of softmax(z): H = log Σ e^z − Σ p·z (verl `entropy_from_logits`). */
export function entropyFromLogits(row: ArrayLike<number>): number {
  const max = maxOf(row);
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < row.length; i++) {
    const e = Math.exp(row[i] - max);
    sum += e;
    if (e > 0) weighted += e * (row[i] - max);
  }
  return Math.log(sum) - weighted / sum;
}
