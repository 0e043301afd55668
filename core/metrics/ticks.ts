// Axis ticks at "nice" values (1, 2 or 5 times a power of ten), after Heckbert, "Nice numbers for graph
// labels", Graphics Gems (1990): the ticks cover [min, max], so the first and last tick are the axis ends.

/** Half-width of the axis around a constant value v, as a fraction of |v| (1 when v is 0). */
const FLAT_RANGE_PAD = 0.1;

/** Most decimals a tick label is written with in fixed notation; finer steps switch to exponent form. */
const MAX_FIXED_DECIMALS = 6;

/** Largest magnitude written in fixed notation; above it labels switch to exponent form. */
const MAX_FIXED_MAGNITUDE = 1e9;

/** The 1-2-5 number nearest x (round) or the smallest one ≥ x (not round). */
function niceNumber(x: number, round: boolean): number {
  const exponent = Math.floor(Math.log10(x));
  const power = 10 ** exponent;
  const fraction = x / power;
  let nice: number;
  if (round) nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  else nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/** Decimals needed to write multiples of step exactly. */
export function stepDecimals(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/**
 * About `count` evenly spaced nice tick values covering [min, max]. A flat range (min = max) is widened
 * around its value so the axis still has a span.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    throw new Error(`niceTicks: min and max must be finite numbers (got ${min}, ${max})`);
  }
  if (!Number.isInteger(count) || count < 2) {
    throw new Error(`niceTicks: count must be an integer ≥ 2 (got ${count})`);
  }
  let lo = Math.min(min, max);
  let hi = Math.max(min, max);
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * FLAT_RANGE_PAD;
    lo -= pad;
    hi += pad;
  }
  const step = niceNumber(niceNumber(hi - lo, false) / (count - 1), true);
  const first = Math.floor(lo / step);
  const last = Math.ceil(hi / step);
  const decimals = Math.min(100, stepDecimals(step));
  const ticks: number[] = [];
  // Multiplying integers by step (rather than adding step repeatedly) keeps rounding error from
  // accumulating; toFixed then removes what is left (0.30000000000000004 → 0.3).
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toFixed(decimals)) + 0);
  return ticks;
}

/** A tick's label, written with as many decimals as the tick spacing needs. */
export function tickLabel(value: number, step: number): string {
  const decimals = stepDecimals(step);
  if (decimals <= MAX_FIXED_DECIMALS && Math.abs(value) < MAX_FIXED_MAGNITUDE) {
    return (value + 0).toFixed(decimals);
  }
  return value === 0 ? '0' : value.toPrecision(3);
}
