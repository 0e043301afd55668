/**
 * The sampler's working memory for one logits row: buffers reused across calls (JavaScript runs one call
 * at a time) and the row's state, shared by sampling.ts and the top-k / top-p warpers (truncation.ts).
 */

/**
 * Without top-k/top-p the draw finds its block of this many ids from per-block sums, then scans one
 * block: about V/1024 + 1024 additions instead of V/2 on average.
 */
export const DRAW_BLOCK = 1024;

/** Scratch buffers, grown to the vocabulary by `ensureScratch`; read them into locals in hot loops. */
export const scratch = {
  /** Per-token weight e^((logit − max)/T), 0 below the cutoff (stale outside the candidates when truncated). */
  weights: new Float64Array(0),
  /** Candidate token ids, ascending; the kept ones are candidates[0..count). */
  candidates: new Int32Array(0),
  /** Top-p's working set of ids and their weights (reordered by the weighted quickselect). */
  work: new Int32Array(0),
  workWeights: new Float64Array(0),
  /** Top-k's logits (reordered by quickselect). */
  values: new Float64Array(0),
  /** Σ weights per DRAW_BLOCK ids. */
  blockSums: new Float64Array(0),
};

export function ensureScratch(vocab: number): void {
  if (scratch.weights.length < vocab) {
    scratch.weights = new Float64Array(vocab);
    scratch.candidates = new Int32Array(vocab);
    scratch.work = new Int32Array(vocab);
    scratch.workWeights = new Float64Array(vocab);
    scratch.values = new Float64Array(vocab);
    scratch.blockSums = new Float64Array(Math.ceil(vocab / DRAW_BLOCK));
  }
}

/**
 * The state of the row being sampled. A shared mutable object, not returned tuples: V8 compiles the
 * sampler's hot loops on-stack, and a `return [a, b]` after such a loop deoptimised on every call
 * (--trace-deopt: "insufficient type feedback"), which made sampling 2–3× slower.
 */
export interface RowState {
  maxLogit: number;
  invT: number;
  /** Kept tokens: candidates[0..count), ascending ids, weights in `scratch.weights`. */
  count: number;
  /** Σ weights over the whole row (the partition function at T, over e^(max/T)). */
  total: number;
  /** Σ weights over the kept tokens. */
  keptMass: number;
  /** Top-k or top-p applied: the kept tokens are candidates[0..count); otherwise every weight > 0. */
  truncated: boolean;
}

/** The row being sampled (one at a time, like the buffers). */
export const row: RowState = { maxLogit: 0, invT: 1, count: 0, total: 0, keptMass: 0, truncated: false };
