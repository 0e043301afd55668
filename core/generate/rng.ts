/**
 * Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as
 * 1, 2, 3", SC 2011). Every draw is a pure function of (seed, step, prompt, sample, position), so a
 * retried activity reproduces its tokens exactly, on any machine and any Node version: only 32-bit
 * integer arithmetic (Math.imul and exact double products below 2^53) is used, no BigInt, no state.
 */

/** Philox4x32 round multipliers and Weyl key increments (Random123, philox.h). */
const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
/** Ten rounds: the Random123 default, "Crush-resistant" with a safety margin (paper, Table 2). */
export const PHILOX_ROUNDS = 10;

const TWO_POW_16 = 65536;
const TWO_POW_32 = 4294967296;
/** 2^-53: a float64 in [0,1) built from 53 random bits (the same construction as numpy's random_double). */
const TWO_POW_MINUS_53 = 1 / 9007199254740992;
const TWO_POW_26 = 67108864;

/**
 * Streams keep independent uses of one seed apart (they go into the second key word), so shuffling
 * mini-batches never replays the draws that sampled tokens.
 */
export const RNG_STREAM = {
  /** Token sampling during generation. */
  sampling: 0,
  /** Row order of the mini-batch plan (core/rl/batchPlan.ts). */
  shuffle: 1,
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
  return ((scratch[0] >>> 5) * TWO_POW_26 + (scratch[1] >>> 6)) * TWO_POW_MINUS_53;
}

const counterScratch = new Uint32Array(4);
const keyScratch = new Uint32Array(2);

/** `uniformAt` with the coordinates named. */
export function uniform(key: DrawKey): number {
  return uniformAt(key.seed, key.step, key.prompt, key.sample, key.position, key.stream);
}
