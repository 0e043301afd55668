/**
 * The unbiased pass@k estimator (Chen et al. 2021, "Evaluating Large Language Models Trained on Code",
 * §2.1): from n ≥ k samples of a problem of which c are correct, the probability that k samples drawn
 * without replacement contain a correct one, 1 − C(n−c, k)/C(n, k). Computed as the paper's numerically
 * stable product 1 − Π_{i=n−c+1..n} (1 − k/i): no binomials (C(100, 50) ≈ 1e29 loses every digit).
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`passAtK: n must be a positive integer (got ${n})`);
  if (!Number.isInteger(c) || c < 0 || c > n)
    throw new RangeError(`passAtK: c must be an integer in [0, n] (got ${c}, n ${n})`);
  if (!Number.isInteger(k) || k < 1 || k > n)
    throw new RangeError(`passAtK: k must be an integer in [1, n] (got ${k}, n ${n})`);
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

/** Mean pass@k over problems, each with its own n samples and c correct. */
export function meanPassAtK(groups: readonly { n: number; c: number }[], k: number): number {
  if (groups.length === 0) return 0;
  return groups.reduce((s, g) => s + passAtK(g.n, g.c, k), 0) / groups.length;
}
