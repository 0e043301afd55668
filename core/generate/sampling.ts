/**
 * Picking one token from one logits row with one uniform draw (from core/generate/rng.ts).
 *
 * Order of the processors is Hugging Face's: temperature, then top-k (TopKLogitsWarper: keep every token
 * whose logit is ≥ the k-th largest), then top-p (TopPLogitsWarper: keep the smallest set of most
 * probable tokens whose probability sums to ≥ p, at least one). The draw is an inverse-CDF lookup over the
 * kept tokens in vocabulary order.
 *
 * Three log-probs come back for the chosen token:
 * - `logprob`: log softmax(logits / T) — the policy at temperature T over the whole vocabulary. This is
 *   what the trainer's forward graph recomputes (verl divides the logits by the rollout temperature
 *   too), so the PPO ratio starts at exactly 1 on-policy. Top-k/top-p are treated as a sampler detail,
 *   as verl does. For greedy (T = 0) it is the T = 1 log-prob.
 * - `samplingLogprob`: log-prob under the distribution actually sampled from (after top-k/top-p
 *   renormalisation); 0 for greedy. The exact behaviour-policy probability, for off-policy corrections.
 * - `rawLogprob` (only when asked for): log softmax(logits) at T = 1, what vLLM reports by default.
 */

export interface SamplingParams {
  /** 0 means greedy (argmax, lowest index on ties). */
  temperature: number;
  /** Keep the k most likely tokens; 0 or undefined = off. */
  topK?: number;
  /** Nucleus threshold in (0, 1]; 1 or undefined = off. */
  topP?: number;
  /** Also compute `rawLogprob` (one more pass over the row when T ≠ 1). */
  rawLogprob?: boolean;
}

export interface SampledToken {
  token: number;
  logprob: number;
  samplingLogprob: number;
  rawLogprob?: number;
}

/**
 * Tokens whose scaled logit lies more than this many nats below the maximum get weight 0. e^-40 ≈ 4e-18
 * is below the 2^-53 resolution of the uniform draw relative to the top token's weight 1, and a whole
 * 150k vocabulary of them moves log Σ by < 1e-12; skipping them is what makes a row of a trained model
 * (most tokens tens of nats down) cost little more than one pass.
 */
const EXP_CUTOFF = -40;
/**
 * Top-p first looks only at candidates with probability ≥ 1e-4 (at most 10^4 of them), then ≥ 1e-6,
 * then all: when the heavy ones already hold the nucleus mass, as usual for a trained model, the light
 * ones are never ordered (every heavy token ranks before every light one, so the answer is the same).
 */
const TOP_P_CANDIDATE_FLOORS = [1e-4, 1e-6, 0];
/**
 * Without top-k/top-p the draw finds its block of this many ids from per-block sums, then scans one
 * block: about V/1024 + 1024 additions instead of V/2 on average.
 */
const DRAW_BLOCK = 1024;

// exp(x) for x ≤ 0 from +, ×, √ only (all correctly rounded in IEEE 754), so the weights, hence the
// tokens, are bit-identical on every machine and Node version (Math.exp is left to the engine), and it
// is about 2.5× faster than Math.exp here. x = -(m·ln2/256) + r, |r| ≤ ln2/512; e^r by a degree-3
// Taylor polynomial (relative error < 2e-13, checked against Math.exp in the tests).
const LOG2E = 1.4426950408889634;
const EXP_TABLE_BITS = 8;
const EXP_TABLE_SIZE = 1 << EXP_TABLE_BITS;
/** ln2 split in a high part with trailing zero bits and a low remainder (Cody–Waite), divided by 256. */
const LN2_HI_OVER_N = 0.6931471803691238 / EXP_TABLE_SIZE;
const LN2_LO_OVER_N = 1.9082149292705877e-10 / EXP_TABLE_SIZE;
/** Below this, e^x is subnormal or 0 (e^-708 ≈ 3e-308 is the smallest normal range we bother with). */
const EXP_UNDERFLOW = -708;
/** 2^(-j/256), j < 256, built from repeated square roots of 2. */
const EXP_FRACTION_TABLE = buildFractionTable();
/** 2^-i for i ≤ 1100, exact (halving is exact down to the subnormals). */
const EXP_POW2_TABLE = buildPow2Table(1100);

function buildFractionTable(): Float64Array {
  const roots: number[] = []; // 2^(1/2), 2^(1/4), …, 2^(1/256)
  let r = 2;
  for (let b = 0; b < EXP_TABLE_BITS; b++) roots.push((r = Math.sqrt(r)));
  const table = new Float64Array(EXP_TABLE_SIZE);
  for (let j = 0; j < EXP_TABLE_SIZE; j++) {
    let v = 1;
    for (let b = 0; b < EXP_TABLE_BITS; b++) if (j & (1 << (EXP_TABLE_BITS - 1 - b))) v *= roots[b];
    table[j] = 1 / v;
  }
  return table;
}

function buildPow2Table(n: number): Float64Array {
  const table = new Float64Array(n + 1);
  table[0] = 1;
  for (let i = 1; i <= n; i++) table[i] = table[i - 1] * 0.5;
  return table;
}

/** e^x for x ≤ 0, deterministic (see above). */
export function expNonPositive(x: number): number {
  if (x < EXP_UNDERFLOW) return 0;
  const m = (0.5 - x * LOG2E * EXP_TABLE_SIZE) | 0;
  const r = x + m * LN2_HI_OVER_N + m * LN2_LO_OVER_N;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6)));
  return p * EXP_FRACTION_TABLE[m & (EXP_TABLE_SIZE - 1)] * EXP_POW2_TABLE[m >> EXP_TABLE_BITS];
}

// Scratch buffers reused across calls: one logits row at a time (JavaScript runs one call at a time).
let weights = new Float64Array(0);
let candidates = new Int32Array(0);
let work = new Int32Array(0);
let workWeights = new Float64Array(0);
let values = new Float64Array(0);
let blockSums = new Float64Array(0);

function ensureScratch(vocab: number): void {
  if (weights.length < vocab) {
    weights = new Float64Array(vocab);
    candidates = new Int32Array(vocab);
    work = new Int32Array(vocab);
    workWeights = new Float64Array(vocab);
    values = new Float64Array(vocab);
    blockSums = new Float64Array(Math.ceil(vocab / DRAW_BLOCK));
  }
}

function checkParams(params: SamplingParams, uniform: number, vocab: number): void {
  const { temperature, topK, topP } = params;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`sampling: temperature must be a finite number ≥ 0 (got ${temperature})`);
  }
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 0)) {
    throw new RangeError(`sampling: topK must be an integer ≥ 0 (got ${topK})`);
  }
  if (topP !== undefined && !(topP > 0 && topP <= 1)) {
    throw new RangeError(`sampling: topP must be in (0, 1] (got ${topP})`);
  }
  if (!(uniform >= 0 && uniform < 1)) {
    throw new RangeError(`sampling: the uniform draw must be in [0, 1) (got ${uniform})`);
  }
  if (vocab === 0) throw new RangeError('sampling: the logits row is empty');
}

/**
 * A constant rather than `-Infinity` inline: V8 optimises the loop before the code after it has run, and
 * an inline unary minus there had no type feedback, so every call deoptimised (seen with --trace-deopt).
 */
const NEGATIVE_INFINITY = Number.NEGATIVE_INFINITY;

/** Index of the largest logit, lowest index on ties; throws on NaN or a row that is all −Infinity. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestValue = NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    } else if (v !== v) {
      throw new RangeError(`sampling: logit ${i} is NaN`);
    }
  }
  if (bestValue === NEGATIVE_INFINITY) throw new RangeError('sampling: every logit is -Infinity');
  return best;
}

/** Σ_i exp((logits_i − maxLogit)/T) over the tokens above the cutoff (the partition function / e^(max/T)). */
function scaledPartition(logits: ArrayLike<number>, maxLogit: number, temperature: number): number {
  const invT = 1 / temperature;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const d = (logits[i] - maxLogit) * invT;
    if (d > EXP_CUTOFF) sum += expNonPositive(d);
  }
  return sum;
}

/** log softmax(logits / T)[token] (T > 0); the same arithmetic as `sampleToken` uses. */
export function tokenLogprob(logits: ArrayLike<number>, token: number, temperature: number): number {
  const maxLogit = logits[argmax(logits)];
  return (logits[token] - maxLogit) / temperature - Math.log(scaledPartition(logits, maxLogit, temperature));
}

/**
 * The state of the row being sampled. A shared mutable object, not returned tuples: V8 compiles the
 * hot loops below on-stack, and a `return [a, b]` after such a loop deoptimised on every call
 * (--trace-deopt: "insufficient type feedback"), which made sampling 2–3× slower.
 */
interface RowState {
  maxLogit: number;
  invT: number;
  /** Kept tokens: candidates[0..count), ascending ids, weights in `weights`. */
  count: number;
  /** Σ weights over the whole row (the partition function at T, over e^(max/T)). */
  total: number;
  /** Σ weights over the kept tokens. */
  keptMass: number;
  /** Top-k or top-p applied: the kept tokens are candidates[0..count); otherwise every weight > 0. */
  truncated: boolean;
}

const row: RowState = { maxLogit: 0, invT: 1, count: 0, total: 0, keptMass: 0, truncated: false };

/** Weights of every token (0 below the cutoff) and per-block sums; sets state.total and state.keptMass. */
function collectWeights(logits: ArrayLike<number>, state: RowState): void {
  const w = weights; // locals: module bindings are re-read on every access inside the loop
  const sums = blockSums;
  const n = logits.length;
  const maxLogit = state.maxLogit;
  const invT = state.invT;
  let total = 0;
  for (let block = 0, start = 0; start < n; block++, start += DRAW_BLOCK) {
    const end = Math.min(n, start + DRAW_BLOCK);
    let sum = 0;
    for (let i = start; i < end; i++) {
      const d = (logits[i] - maxLogit) * invT;
      const e = d > EXP_CUTOFF ? expNonPositive(d) : 0;
      w[i] = e;
      sum += e;
    }
    sums[block] = sum;
    total += sum;
  }
  state.total = total;
  state.keptMass = total;
  state.truncated = false;
}

/**
 * For top-k/top-p: the candidate list (ids above the cutoff, ascending) and their weights, in one pass;
 * sets state.count, state.total, state.keptMass. Weights of other ids are left stale and never read.
 */
function collectCandidates(logits: ArrayLike<number>, state: RowState): void {
  const w = weights;
  const ids = candidates;
  const n = logits.length;
  const maxLogit = state.maxLogit;
  const invT = state.invT;
  let count = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const d = (logits[i] - maxLogit) * invT;
    if (d > EXP_CUTOFF) {
      const e = expNonPositive(d);
      w[i] = e;
      total += e;
      ids[count++] = i;
    }
  }
  state.count = count;
  state.total = total;
  state.keptMass = total;
  state.truncated = true;
}

/** The candidate list of an untruncated row, from its stored weights. */
function candidatesFromWeights(vocab: number, state: RowState): void {
  const w = weights;
  const ids = candidates;
  let count = 0;
  for (let i = 0; i < vocab; i++) if (w[i] > 0) ids[count++] = i;
  state.count = count;
}

/** Inverse CDF over all tokens: the first id whose running weight exceeds `target` (block sums first). */
function drawUntruncated(vocab: number, target: number): number {
  const w = weights;
  const sums = blockSums;
  let cumulative = 0;
  let lastPositive = -1;
  for (let block = 0, start = 0; start < vocab; block++, start += DRAW_BLOCK) {
    if (sums[block] > 0) lastPositive = block;
    if (cumulative + sums[block] <= target) {
      cumulative += sums[block];
      continue;
    }
    // Scan this block from 0, in the order its sum was formed, against the remaining target.
    const end = Math.min(vocab, start + DRAW_BLOCK);
    const remaining = target - cumulative;
    let sum = 0;
    let last = start;
    for (let i = start; i < end; i++) {
      if (w[i] === 0) continue;
      sum += w[i];
      last = i;
      if (sum > remaining) return i;
    }
    return last; // rounding: the block's tokens summed to just under `remaining`
  }
  // Rounding left target ≥ the total: the last token with weight.
  const start = lastPositive * DRAW_BLOCK;
  let last = start;
  for (let i = start; i < Math.min(vocab, start + DRAW_BLOCK); i++) if (w[i] > 0) last = i;
  return last;
}

/** Inverse CDF over the kept candidates in id order. */
function drawTruncated(count: number, target: number): number {
  const w = weights;
  const ids = candidates;
  let cumulative = 0;
  for (let c = 0; c < count; c++) {
    cumulative += w[ids[c]];
    if (cumulative > target) return ids[c];
  }
  return ids[count - 1]; // rounding left target ≥ the running sum
}

/** The k-th largest (1-based) of values[0..n), by quickselect (reorders `values`). */
function kthLargest(n: number, k: number): number {
  const a = values;
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
function applyTopK(logits: ArrayLike<number>, count: number, k: number): number {
  if (k <= 0 || k >= count) return count;
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
function ranksBefore(a: number, b: number): boolean {
  return weights[a] > weights[b] || (weights[a] === weights[b] && a < b);
}

/**
 * Among the tokens work[0..count) (weights alongside in workWeights), ordered by `ranksBefore`, the
 * first at which the running weight reaches `mass`: a weighted quickselect, expected O(count), never a
 * full sort. −1 if their total falls short.
 */
function nucleusBoundary(count: number, mass: number): number {
  const ids = work;
  const ws = workWeights;
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
function applyTopP(state: RowState, topP: number): void {
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
    if (!ranksBefore(boundary, id)) {
      candidates[kept++] = id;
      keptMass += weights[id];
    }
  }
  state.count = kept;
  state.keptMass = keptMass;
}

/** Weights at temperature T > 0, then top-k and top-p: leaves the kept tokens in the scratch buffers. */
function prepareRow(logits: ArrayLike<number>, params: SamplingParams, maxLogit: number): RowState {
  const vocab = logits.length;
  ensureScratch(vocab);
  row.maxLogit = maxLogit;
  row.invT = 1 / params.temperature;
  const topK = params.topK ?? 0;
  const topP = params.topP ?? 1;
  if (topK > 0 || topP < 1) collectCandidates(logits, row);
  else collectWeights(logits, row);
  if (topK > 0 && topK < row.count) {
    const count = applyTopK(logits, row.count, topK);
    let keptMass = 0;
    for (let c = 0; c < count; c++) keptMass += weights[candidates[c]];
    row.count = count;
    row.keptMass = keptMass;
  }
  if (topP < 1) applyTopP(row, topP);
  return row;
}

/**
 * The distribution `sampleToken` draws from: kept token ids (ascending) and their probabilities.
 * For inspection and tests; greedy (T = 0) gives the argmax with probability 1.
 */
export function samplingSupport(
  logits: ArrayLike<number>,
  params: SamplingParams,
): { ids: Int32Array; probs: Float64Array } {
  checkParams(params, 0, logits.length);
  const best = argmax(logits);
  if (params.temperature === 0) return { ids: Int32Array.of(best), probs: Float64Array.of(1) };
  const state = prepareRow(logits, params, logits[best]);
  if (!state.truncated) candidatesFromWeights(logits.length, state);
  const ids = candidates.slice(0, state.count);
  const probs = new Float64Array(state.count);
  for (let c = 0; c < state.count; c++) probs[c] = weights[ids[c]] / state.keptMass;
  return { ids, probs };
}

/**
 * Sample one token id from `logits` with the uniform draw `uniform` ∈ [0, 1).
 * Cost: one pass for the max, one for the weights, then work on the candidates above the cutoff only
 * (top-k: quickselect; top-p: weighted quickselect; the draw: one scan).
 */
export function sampleToken(
  logits: ArrayLike<number>,
  params: SamplingParams,
  uniform: number,
): SampledToken {
  checkParams(params, uniform, logits.length);
  const best = argmax(logits);
  const maxLogit = logits[best];
  const temperature = params.temperature;

  if (temperature === 0) {
    const logprob = -Math.log(scaledPartition(logits, maxLogit, 1));
    const result: SampledToken = { token: best, logprob, samplingLogprob: 0 };
    if (params.rawLogprob) result.rawLogprob = logprob;
    return result;
  }

  const { invT, count, total, keptMass, truncated } = prepareRow(logits, params, maxLogit);
  const target = uniform * keptMass;
  const token = truncated ? drawTruncated(count, target) : drawUntruncated(logits.length, target);

  const shifted = (logits[token] - maxLogit) * invT;
  const result: SampledToken = {
    token,
    logprob: shifted - Math.log(total),
    samplingLogprob: shifted - Math.log(keptMass),
  };
  if (params.rawLogprob) {
    result.rawLogprob =
      temperature === 1
        ? result.logprob
        : logits[token] - maxLogit - Math.log(scaledPartition(logits, maxLogit, 1));
  }
  return result;
}
