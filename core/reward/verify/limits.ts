/**
 * Bounds that keep every comparison finite. JavaScript cannot pre-empt synchronous code, so the time
 * limit is enforced two ways: inputs are capped in size before any parsing (so the worst case is
 * bounded), and every loop over points, set elements or cells checks a deadline.
 */

/** Model outputs are scanned from the end; an answer is never further back than this (1 MB outputs stay cheap). */
export const MAX_SCAN_CHARS = 20_000;

/** An extracted answer longer than this is not parsed (real answers are a few hundred characters at most). */
export const MAX_ANSWER_CHARS = 2_000;

/**
 * One expression longer than this is not handed to the LaTeX parser, whose time grows faster than
 * linearly (a 400-character sum took 30–70 ms here); the longest MATH-500 answers are well under it.
 */
export const MAX_PARSE_CHARS = 300;

/** Brace nesting deeper than this is refused before the LaTeX parser sees it (its recursion is unbounded). */
export const MAX_BRACE_DEPTH = 40;

/** Structures nest at most this deep (a list of tuples of intervals is 3); deeper input is refused. */
export const MAX_STRUCTURE_DEPTH = 8;

/** At most this many elements in a set, tuple, list or matrix (larger ones are refused, not truncated). */
export const MAX_ELEMENTS = 256;

/**
 * Default wall-clock budget for one gold/prediction comparison, in milliseconds. Typical comparisons take
 * well under a millisecond and a cold parse of an unusual expression up to ≈ 20 ms on a busy 2-core
 * machine; the budget is a safety net sized so that load or a garbage-collection pause does not turn a
 * right answer into a wrong one.
 */
export const DEFAULT_TIME_LIMIT_MS = 250;

/**
 * Decimal places two floats must agree to: Math-Verify's default `float_rounding=6`, which its tests use
 * to accept `0.0833333333333333` for `\frac{1}{12}`.
 */
export const DEFAULT_PRECISION = 6;

/**
 * Relative tolerance for numbers too large for an absolute 1e-6 (float64 spacing passes 1e-6 near 1e10).
 * Float64 carries about 16 significant digits and a few operations lose a few more: 1e-12 keeps
 * 1000000007 ≠ 1000000008 while tolerating rounding in computed values.
 */
export const RELATIVE_TOLERANCE = 1e-12;

/** Random points for the numeric identity check of expressions with free variables. */
export const IDENTITY_POINTS = 6;

/** At least this many points must evaluate to finite numbers on both sides before "equal" is believed. */
export const MIN_VALID_POINTS = 3;

/** Relative agreement required at each random point (float noise of a few ulps times expression depth). */
export const IDENTITY_TOLERANCE = 1e-7;

/** Parsed answers are cached by their normalised text (gold answers repeat across every rollout of a prompt). */
export const PARSE_CACHE_SIZE = 4_096;
