/**
 * Seeded pseudo-random numbers for weight initialisation, bit-identical on every JavaScript engine.
 *
 * Only integer ops (Math.imul, shifts), IEEE basic arithmetic and Math.sqrt are used: those are exactly
 * rounded by the spec. Math.log / Math.cos are not (their precision is implementation-defined), so the
 * normal sampler uses our own arithmetic-only logarithm instead.
 */

/** 2^-53: turns a 53-bit integer into a double in [0, 1) with every bit random. */
const TWO_POW_MINUS_53 = 1 / 9007199254740992;
/** 2^26, to join a 26-bit and a 27-bit draw into one 53-bit integer. */
const TWO_POW_26 = 67108864;
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
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * TWO_POW_26 + lo) * TWO_POW_MINUS_53;
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
