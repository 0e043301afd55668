/**
 * Hugging Face's TopKLogitsWarper and TopPLogitsWarper on the candidates in the scratch buffers, each in
 * expected linear time: quickselect for the k-th largest logit, a weighted quickselect for the nucleus
 * boundary (never a full sort of the vocabulary).
 */
import { scratch, type RowState } from './samplingScratch.ts';

/**
 * Top-p first looks only at candidates with probability ≥ 1e-4 (at most 10^4 of them), then ≥ 1e-6,
 * then all: when the heavy ones already hold the nucleus mass, as usual for a trained model, the light
 * ones are never ordered (every heavy token ranks before every light one, so the answer is the same).
 */
const TOP_P_CANDIDATE_FLOORS = [1e-4, 1e-6, 0];

/** The k-th largest (1-based) of values[0..n), by quickselect (reorders `values`). */
function kthLargest(n: number, k: number): number {
  const a = scratch.values;
  let lo = 0;
  let hi = n - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

/** HF TopKLogitsWarper on the candidates: keep logits ≥ the k-th largest. Returns the new count. */
export function applyTopK(logits: ArrayLike<number>, count: number, k: number): number {
  if (k <= 0 || k >= count) return count;
  const { values, candidates } = scratch;
  for (let c = 0; c < count; c++) values[c] = logits[candidates[c]];
  const threshold = kthLargest(count, k);
  let kept = 0;
  for (let c = 0; c < count; c++) {
    const id = candidates[c];
    if (logits[id] >= threshold) candidates[kept++] = id;
  }
  return kept;
}

/** True when token a ranks before token b: larger weight first, lower id on ties. */
function ranksBefore(weights: Float64Array, a: number, b: number): boolean {
  return weights[a] > weights[b] || (weights[a] === weights[b] && a < b);
}

/**
 * Among the tokens work[0..count) (weights alongside in workWeights), ordered by `ranksBefore`, the
 * first at which the running weight reaches `mass`: a weighted quickselect, expected O(count), never a
 * full sort. −1 if their total falls short.
 */
function nucleusBoundary(count: number, mass: number): number {
  const ids = scratch.work;
  const ws = scratch.workWeights;
  let lo = 0;
  let hi = count - 1;
  let remaining = mass;
  while (lo <= hi) {
    const middle = (lo + hi) >>> 1;
    const pivot = ids[middle];
    const pivotWeight = ws[middle];
    // Move the tokens that rank before the pivot to the front of [lo, hi].
    let store = lo;
    let before = 0;
    for (let i = lo; i <= hi; i++) {
      const w = ws[i];
      const id = ids[i];
      if (w > pivotWeight || (w === pivotWeight && id < pivot)) {
        ids[i] = ids[store];
        ws[i] = ws[store];
        ids[store] = id;
        ws[store] = w;
        store++;
        before += w;
      }
    }
    if (before >= remaining) {
      hi = store - 1;
      continue;
    }
    if (before + pivotWeight >= remaining) return pivot;
    remaining -= before + pivotWeight;
    // Keep the tokens after the pivot.
    let write = store;
    for (let i = store; i <= hi; i++) {
      if (ids[i] !== pivot) {
        ids[write] = ids[i];
        ws[write] = ws[i];
        write++;
      }
    }
    lo = store;
    hi = write - 1;
  }
  return -1;
}

/** HF TopPLogitsWarper on the kept candidates; updates state.count and state.keptMass. */
export function applyTopP(state: RowState, topP: number): void {
  const { weights, candidates, work, workWeights } = scratch;
  const count = state.count;
  const mass = state.keptMass;
  const nucleus = topP * mass;
  let boundary = -1;
  for (const fraction of TOP_P_CANDIDATE_FLOORS) {
    const floor = mass * fraction;
    let n = 0;
    let heavyMass = 0;
    for (let c = 0; c < count; c++) {
      const id = candidates[c];
      const w = weights[id];
      if (w >= floor) {
        work[n] = id;
        workWeights[n] = w;
        n++;
        heavyMass += w;
      }
    }
    if (heavyMass >= nucleus || fraction === 0) boundary = nucleusBoundary(n, nucleus);
    if (boundary >= 0) break;
  }
  // Rounding can leave the summed weight a hair below the nucleus: then every candidate is kept.
  if (boundary < 0) return;
  let kept = 0;
  let keptMass = 0;
  for (let c = 0; c < count; c++) {
    const id = candidates[c];
    if (!ranksBefore(weights, boundary, id)) {
      candidates[kept++] = id;
      keptMass += weights[id];
    }
  }
  state.count = kept;
  state.keptMass = keptMass;
}
