/**
 * Picking one token from one logits row with one uniform draw (from core/random.ts).
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
import { expNonPositive } from './deterministicExp.ts';
import { DRAW_BLOCK, ensureScratch, row, scratch, type RowState } from './samplingScratch.ts';
import { applyTopK, applyTopP } from './truncation.ts';

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

/** Weights of every token (0 below the cutoff) and per-block sums; sets state.total and state.keptMass. */
function collectWeights(logits: ArrayLike<number>, state: RowState): void {
  const w = scratch.weights; // locals: properties would be re-read on every access inside the loop
  const sums = scratch.blockSums;
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
  const w = scratch.weights;
  const ids = scratch.candidates;
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
  const w = scratch.weights;
  const ids = scratch.candidates;
  let count = 0;
  for (let i = 0; i < vocab; i++) if (w[i] > 0) ids[count++] = i;
  state.count = count;
}

/** Inverse CDF over all tokens: the first id whose running weight exceeds `target` (block sums first). */
function drawUntruncated(vocab: number, target: number): number {
  const w = scratch.weights;
  const sums = scratch.blockSums;
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
  const w = scratch.weights;
  const ids = scratch.candidates;
  let cumulative = 0;
  for (let c = 0; c < count; c++) {
    cumulative += w[ids[c]];
    if (cumulative > target) return ids[c];
  }
  return ids[count - 1]; // rounding left target ≥ the running sum
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
    const { weights, candidates } = scratch;
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
  const ids = scratch.candidates.slice(0, state.count);
  const weights = scratch.weights;
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
