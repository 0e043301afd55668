/**
 * The Countdown verifier: an answer must be an arithmetic expression over the given numbers (each used at
 * most as often as given) whose exact rational value is the target. core/data's Countdown generator stores
 * the numbers and target this checks.
 */

/** An exact rational (numerator, denominator > 0) in BigInt. */
type Rat = [bigint, bigint];

/** Longest Countdown expression accepted (a real one is a few dozen characters). */
const MAX_COUNTDOWN_CHARS = 200;

/**
 * Checks a Countdown answer: only integers, + − × ÷ and parentheses; each given number used at most as
 * often as given; the exact rational value equals the target. Never throws.
 */
export function verifyCountdown(
  numbers: number[],
  target: number,
  answer: string,
): { equal: boolean; reason: string } {
  let expr = answer
    .replace(/\\times|×/g, '*')
    .replace(/\\div|÷/g, '/')
    .replace(/\\left|\\right|\$/g, '');
  expr = expr.split('=')[0].trim();
  if (expr.length === 0) return { equal: false, reason: 'empty answer' };
  if (expr.length > MAX_COUNTDOWN_CHARS || !/^[\d\s+\-*/()]+$/.test(expr)) {
    return { equal: false, reason: 'answer must use only numbers, + - * / and parentheses' };
  }
  const used = (expr.match(/\d+/g) ?? []).map(Number);
  const available = new Map<number, number>();
  for (const n of numbers) available.set(n, (available.get(n) ?? 0) + 1);
  for (const n of used) {
    const left = available.get(n) ?? 0;
    if (left === 0) return { equal: false, reason: `number ${n} is not available (or used too often)` };
    available.set(n, left - 1);
  }
  let value: Rat | undefined;
  try {
    value = new RatParser(expr).parse();
  } catch (err) {
    return { equal: false, reason: `not an arithmetic expression (${(err as Error).message})` };
  }
  if (!value) return { equal: false, reason: 'division by zero' };
  const ok = value[0] === BigInt(target) * value[1];
  return ok
    ? { equal: true, reason: 'reaches the target' }
    : { equal: false, reason: 'does not reach the target' };
}

/** Recursive-descent parser over exact rationals; undefined means division by zero. */
class RatParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parse(): Rat | undefined {
    const v = this.sum();
    this.skip();
    if (this.i !== this.s.length) throw new Error(`unexpected "${this.s[this.i]}"`);
    return v;
  }

  private skip(): void {
    while (this.s[this.i] === ' ') this.i++;
  }

  private sum(): Rat | undefined {
    let v = this.product();
    for (;;) {
      this.skip();
      const op = this.s[this.i];
      if (op !== '+' && op !== '-') return v;
      this.i++;
      const r = this.product();
      if (!v || !r) return undefined;
      v = normal([v[0] * r[1] + (op === '+' ? 1n : -1n) * r[0] * v[1], v[1] * r[1]]);
    }
  }

  private product(): Rat | undefined {
    let v = this.atom();
    for (;;) {
      this.skip();
      const op = this.s[this.i];
      if (op !== '*' && op !== '/') return v;
      this.i++;
      const r = this.atom();
      if (!v || !r) return undefined;
      if (op === '/' && r[0] === 0n) return undefined;
      v = normal(op === '*' ? [v[0] * r[0], v[1] * r[1]] : [v[0] * r[1], v[1] * r[0]]);
    }
  }

  private atom(): Rat | undefined {
    this.skip();
    if (this.s[this.i] === '(') {
      this.i++;
      const v = this.sum();
      this.skip();
      if (this.s[this.i] !== ')') throw new Error('missing ")"');
      this.i++;
      return v;
    }
    const m = /^\d+/.exec(this.s.slice(this.i));
    if (!m) throw new Error(`expected a number at position ${this.i + 1}`);
    this.i += m[0].length;
    return [BigInt(m[0]), 1n];
  }
}

function normal([n, d]: Rat): Rat {
  if (d < 0n) [n, d] = [-n, -d];
  let a = n < 0n ? -n : n;
  let b = d;
  while (b) [a, b] = [b, a % b];
  return a > 1n ? [n / a, d / a] : [n, d];
}
