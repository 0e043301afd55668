/**
 * Every seeded random number in reasonloop, bit-identical on every machine and Node version: only 32-bit
 * integer arithmetic (Math.imul, shifts, exact double products below 2^53), IEEE basic arithmetic and
 * Math.sqrt, all exactly specified. Three generators, each kept because results are pinned to its stream:
 *
 * - `uniformAt` (Philox4x32-10, counter-based): token sampling (core/generate) and mini-batch order
 *   (core/rl/batchPlan.ts). A draw is a pure function of its coordinates, so a retried activity
 *   reproduces its tokens exactly; the pinned generation tests and the demo tokens depend on it.
 * - `Prng` (xoshiro128**, sequential): weight initialisation (core/model/parameters.ts, one stream per
 *   tensor name). Seeded random models and their pinned weights depend on its stream.
 * - `mulberry32` (sequential, 32-bit state): synthetic task generation (core/data/synthetic.ts). The
 *   synthetic datasets, hence the demo and study numbers, depend on its stream.
 *
 * Replacing one by another would change those pinned results, so all three stay; they share the 53-bit
 * float construction below.
 */

/** 2^-53: a float64 in [0,1) built from 53 random bits (the same construction as numpy's random_double). */
const TWO_POW_MINUS_53 = 1 / 9007199254740992;
/** 2^26, to join a 27-bit and a 26-bit draw into one 53-bit integer. */
const TWO_POW_26 = 67108864;
const TWO_POW_16 = 65536;
const TWO_POW_32 = 4294967296;

/** A uniform double in [0, 1) from two uint32 words: the high 27 bits of `a`, then the high 26 of `b`. */
function float53(a: number, b: number): number {
  return ((a >>> 5) * TWO_POW_26 + (b >>> 6)) * TWO_POW_MINUS_53;
}

// ---------------------------------------------------------------------------------------------------
// Philox4x32-10: counter-based (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011).
// Every draw is a pure function of (seed, step, prompt, sample, position): no BigInt, no state.
// ---------------------------------------------------------------------------------------------------

/** Philox4x32 round multipliers and Weyl key increments (Random123, philox.h). */
const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
/** Ten rounds: the Random123 default, "Crush-resistant" with a safety margin (paper, Table 2). */
export const PHILOX_ROUNDS = 10;

/**
 * Streams keep independent uses of one seed apart (they go into the second key word), so shuffling
 * mini-batches never replays the draws that sampled tokens.
 */
export const RNG_STREAM = {
  /** Token sampling during generation. */
  sampling: 0,
  /** Row order of the mini-batch plan (core/rl/batchPlan.ts). */
  shuffle: 1,
  /** The habit teacher's choices per training problem (core/data/habitTraces.ts). */
  teacher: 2,
} as const;

/** High 32 bits of the 64-bit product of two uint32 values, exact (every partial product < 2^53). */
function mulHi32(a: number, b: number): number {
  const aHi = a >>> 16;
  const aLo = a & 0xffff;
  const bHi = b >>> 16;
  const bLo = b & 0xffff;
  const lo = aLo * bLo;
  const mid = aHi * bLo + aLo * bHi;
  const low64 = lo + (mid % TWO_POW_16) * TWO_POW_16;
  return (aHi * bHi + Math.floor(mid / TWO_POW_16) + Math.floor(low64 / TWO_POW_32)) >>> 0;
}

const scratch = new Uint32Array(4);

/**
 * Philox4x32-10 block function: 4 counter words and 2 key words (uint32 each) → 4 random words.
 * Writes into `out` (a fresh array when omitted). Checked against Random123's known-answer vectors.
 */
export function philox4x32(
  counter: ArrayLike<number>,
  key: ArrayLike<number>,
  out: Uint32Array = new Uint32Array(4),
): Uint32Array {
  let c0 = counter[0] >>> 0;
  let c1 = counter[1] >>> 0;
  let c2 = counter[2] >>> 0;
  let c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let round = 0; round < PHILOX_ROUNDS; round++) {
    const hi0 = mulHi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulHi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

function checkUint32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= TWO_POW_32) {
    throw new RangeError(`rng: ${name} must be an integer in [0, 2^32) (got ${value})`);
  }
}

/** The coordinates of one random draw. Each is a uint32; `seed` is the run's seed. */
export interface DrawKey {
  seed: number;
  step: number;
  prompt: number;
  sample: number;
  position: number;
  /** One of RNG_STREAM; default RNG_STREAM.sampling. */
  stream?: number;
}

/**
 * A uniform float64 in [0, 1) for one (seed, step, prompt, sample, position) coordinate.
 * Layout: key = (seed, stream), counter = (position, sample, prompt, step); the first two output words
 * give the 53 bits (w0 >>> 5, w1 >>> 6), as numpy does for doubles.
 */
export function uniformAt(
  seed: number,
  step: number,
  prompt: number,
  sample: number,
  position: number,
  stream: number = RNG_STREAM.sampling,
): number {
  checkUint32('seed', seed);
  checkUint32('step', step);
  checkUint32('prompt', prompt);
  checkUint32('sample', sample);
  checkUint32('position', position);
  checkUint32('stream', stream);
  counterScratch[0] = position;
  counterScratch[1] = sample;
  counterScratch[2] = prompt;
  counterScratch[3] = step;
  keyScratch[0] = seed;
  keyScratch[1] = stream;
  philox4x32(counterScratch, keyScratch, scratch);
  return float53(scratch[0], scratch[1]);
}

const counterScratch = new Uint32Array(4);
const keyScratch = new Uint32Array(2);

/** `uniformAt` with the coordinates named. */
export function uniform(key: DrawKey): number {
  return uniformAt(key.seed, key.step, key.prompt, key.sample, key.position, key.stream);
}

// ---------------------------------------------------------------------------------------------------
// xoshiro128**: sequential, for weight initialisation. Math.log / Math.cos are not exactly rounded (their
// precision is implementation-defined), so the normal sampler uses our own arithmetic-only logarithm.
// ---------------------------------------------------------------------------------------------------

/** ln 2 as the closest double (0x3FE62E42FEFA39EF), the constant fdlibm uses. */
const LN2 = 0.6931471805599453;
/** sqrt(2): mantissas are folded into [sqrt(1/2), sqrt(2)) so the atanh series converges fast. */
const SQRT2 = Math.SQRT2;
/** atanh series terms: |t| <= 0.172 there, so 0.172^(2*30) is far below double precision. */
const LOG_SERIES_TERMS = 30;

/** splitmix32 (a 32-bit variant of Steele, Lea & Flood's SplitMix): expands one seed into several words. */
function splitmix32(state: number): { value: number; next: number } {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return { value: (z ^ (z >>> 16)) >>> 0, next };
}

/** FNV-1a over the UTF-16 code units of a string: folds a stream name (e.g. a tensor name) into a seed. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * xoshiro128** (Blackman & Vigna, 2018): 128-bit state, period 2^128 - 1, seeded through splitmix32.
 * `stream` selects an independent sequence for the same seed (we use one per tensor name).
 */
export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, stream = 0) {
    if (!Number.isSafeInteger(seed)) throw new Error(`prng seed must be a safe integer (got ${seed})`);
    // Fold the seed's high 21 bits in too, so seeds that differ only above bit 32 give different streams.
    const high = Math.floor(seed / 2 ** 32) | 0;
    let state = (seed ^ Math.imul(high, 0x9e3779b1) ^ Math.imul(stream | 0, 0x27d4eb2d)) | 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = splitmix32(state);
      words.push(r.value);
      state = r.next;
    }
    [this.s0, this.s1, this.s2, this.s3] = words;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** A generator with the given raw xoshiro128 state (for checking against the reference test vectors). */
  static fromState(state: readonly [number, number, number, number]): Prng {
    const prng = new Prng(0);
    [prng.s0, prng.s1, prng.s2, prng.s3] = state.map((w) => w | 0);
    return prng;
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextUint32(); // drawn first: its 27 high bits are the high bits
    return float53(hi, this.nextUint32());
  }

  /** Standard normal draw (Marsaglia's polar method, which needs only sqrt and a logarithm). */
  nextNormal(): number {
    for (;;) {
      const u = 2 * this.nextFloat() - 1;
      const v = 2 * this.nextFloat() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) return u * Math.sqrt((-2 * naturalLog(s)) / s);
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * ln(x) for finite x > 0 from basic arithmetic only: x = m * 2^e with m in [sqrt(1/2), sqrt(2)),
 * ln m = 2 atanh((m-1)/(m+1)) by its power series. Accurate to about 1 ulp, identical everywhere.
 */
export function naturalLog(x: number): number {
  if (!(x > 0) || !Number.isFinite(x))
    throw new Error(`naturalLog needs a finite positive number (got ${x})`);
  let m = x;
  let e = 0;
  while (m >= SQRT2) {
    m /= 2;
    e++;
  }
  while (m < SQRT2 / 2) {
    m *= 2;
    e--;
  }
  const t = (m - 1) / (m + 1);
  const t2 = t * t;
  let term = t;
  let sum = 0;
  for (let k = 0; k < LOG_SERIES_TERMS; k++) {
    sum += term / (2 * k + 1);
    term *= t2;
  }
  return 2 * sum + e * LN2;
}

// ---------------------------------------------------------------------------------------------------
// mulberry32: sequential, for synthetic tasks.
// ---------------------------------------------------------------------------------------------------

/** mulberry32 (Tommy Ettinger, 2017): a small fast generator of doubles in [0, 1) with a 32-bit state. */
export function mulberry32(state: number): () => number {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_POW_32;
  };
}
