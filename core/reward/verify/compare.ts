/**
 * Equivalence of two structured answers, gold first (the relation is not symmetric: a gold interval
 * accepts a predicted double inequality only when asked to). Numbers compare to a number of decimal
 * places; expressions with free variables compare at random points; sets ignore order, tuples do not.
 */
import { evaluate, freeSymbols, type Env, type Num } from './evaluate.ts';
import { IDENTITY_POINTS, IDENTITY_TOLERANCE, MIN_VALID_POINTS, RELATIVE_TOLERANCE } from './limits.ts';
import { unwrapTextMacros } from './normalize.ts';
import { sameCanonicalForm, type Json } from './latex.ts';
import type { Value } from './value.ts';

export interface CompareContext {
  /** Decimal places two numbers must agree to. */
  precision: number;
  /** Variable names must match (`f(x)` ≠ `f(y)`). */
  strict: boolean;
  /** Accept a predicted inequality for a gold interval (Math-Verify's `allow_set_relation_comp`). */
  allowSetRelationComp: boolean;
  /** `performance.now()` value after which every comparison answers "not equal". */
  deadline: number;
}

export interface Outcome {
  equal: boolean;
  reason: string;
}

const yes = (reason: string): Outcome => ({ equal: true, reason });
const no = (reason: string): Outcome => ({ equal: false, reason });

export function compareValues(gold: Value, pred: Value, ctx: CompareContext): Outcome {
  if (performance.now() > ctx.deadline) return no('time limit exceeded');
  if (gold.kind === 'invalid') return no(`gold answer: ${gold.reason}`);
  if (pred.kind === 'invalid') return no(`predicted answer: ${pred.reason}`);
  if (gold.kind === 'list' && gold.items.length === 1) return compareValues(gold.items[0], pred, ctx);
  if (pred.kind === 'list' && pred.items.length === 1) return compareValues(gold, pred.items[0], ctx);

  if (gold.kind === 'relation' && pred.kind !== 'relation') {
    if (gold.assignment) return compareValues(gold.rhs, pred, ctx);
    if (pred.kind === 'interval' || pred.kind === 'union') {
      const asInterval = relationToInterval(gold);
      if (asInterval) return compareValues(asInterval, pred, ctx);
    }
    return no('gold is an equation or inequality, the prediction is not');
  }
  if (pred.kind === 'relation' && gold.kind !== 'relation') {
    // "x = 11", "\frac{1}{2} = \frac{10}{9}": a predicted equation answers with its right side.
    if (pred.op === '=') return compareValues(gold, pred.rhs, ctx);
    if ((gold.kind === 'interval' || gold.kind === 'union') && ctx.allowSetRelationComp) {
      const asInterval = relationToInterval(pred);
      if (asInterval) return compareValues(gold, asInterval, ctx);
    }
    return no('prediction is an equation or inequality, the gold is not');
  }

  switch (gold.kind) {
    case 'expr':
      if (pred.kind === 'expr') return compareExprs(gold.json, pred.json, ctx);
      if (pred.kind === 'text') return compareTexts(gold.src, pred.text);
      return no(`gold is a single value, prediction is a ${pred.kind}`);
    case 'text':
      if (pred.kind === 'text') return compareTexts(gold.text, pred.text);
      if (pred.kind === 'expr') return compareTexts(gold.text, pred.src);
      return no(`gold is text, prediction is a ${pred.kind}`);
    case 'list':
    case 'set':
      if (pred.kind === 'list' || pred.kind === 'set') return compareUnordered(gold.items, pred.items, ctx);
      if (pred.kind === 'tuple' && gold.kind === 'list') return compareOrdered(gold.items, pred.items, ctx);
      return no(`gold is a ${gold.kind}, prediction is a ${pred.kind}`);
    case 'tuple':
      if (pred.kind === 'tuple' || pred.kind === 'list') return compareOrdered(gold.items, pred.items, ctx);
      if (pred.kind === 'interval' && gold.paren && gold.items.length === 2) {
        return compareIntervals(openInterval(gold.items), pred, ctx);
      }
      return no(`gold is a tuple, prediction is a ${pred.kind}`);
    case 'interval':
      if (pred.kind === 'interval') {
        if (pred.fromRelation && !gold.fromRelation && !ctx.allowSetRelationComp) {
          return no('prediction is an inequality, gold an interval (set/relation comparison not allowed)');
        }
        return compareIntervals(gold, pred, ctx);
      }
      if (pred.kind === 'tuple' && pred.paren && pred.items.length === 2) {
        return compareIntervals(gold, openInterval(pred.items), ctx);
      }
      return no(`gold is an interval, prediction is a ${pred.kind}`);
    case 'union':
      if (pred.kind === 'union') return compareUnordered(gold.parts, pred.parts, ctx);
      return no(`gold is a union, prediction is a ${pred.kind}`);
    case 'relation':
      if (pred.kind === 'relation') return compareRelations(gold, pred, ctx);
      return no('prediction is not a relation');
  }
}

function openInterval(items: Value[]): Extract<Value, { kind: 'interval' }> {
  return { kind: 'interval', lo: items[0], hi: items[1], loOpen: true, hiOpen: true };
}

function compareIntervals(
  g: Extract<Value, { kind: 'interval' }>,
  p: Extract<Value, { kind: 'interval' }>,
  ctx: CompareContext,
): Outcome {
  if (g.loOpen !== p.loOpen || g.hiOpen !== p.hiOpen) return no('interval ends differ in open/closed');
  const lo = compareValues(g.lo, p.lo, ctx);
  if (!lo.equal) return no(`lower ends differ: ${lo.reason}`);
  const hi = compareValues(g.hi, p.hi, ctx);
  if (!hi.equal) return no(`upper ends differ: ${hi.reason}`);
  return yes('same interval');
}

function compareOrdered(g: Value[], p: Value[], ctx: CompareContext): Outcome {
  if (g.length !== p.length) return no(`${g.length} elements in gold, ${p.length} in prediction`);
  for (let i = 0; i < g.length; i++) {
    const r = compareValues(g[i], p[i], ctx);
    if (!r.equal) return no(`element ${i + 1} differs: ${r.reason}`);
  }
  return yes('same elements in the same order');
}

/** Set equality: every gold element is in the prediction and every predicted one in the gold (repeats allowed). */
function compareUnordered(g: Value[], p: Value[], ctx: CompareContext): Outcome {
  const matchedP = new Array<boolean>(p.length).fill(false);
  for (let i = 0; i < g.length; i++) {
    let found = false;
    for (let j = 0; j < p.length; j++) {
      if (found && matchedP[j]) continue;
      if (compareValues(g[i], p[j], ctx).equal) {
        matchedP[j] = true;
        found = true;
      }
    }
    if (!found) return no(`gold element ${i + 1} has no match in the prediction`);
  }
  const extra = matchedP.indexOf(false);
  if (extra >= 0) return no(`predicted element ${extra + 1} is not in the gold`);
  return yes('same elements');
}

function compareTexts(g: string, p: string): Outcome {
  const clean = (s: string) =>
    unwrapTextMacros(s)
      .replace(/\s+/g, '')
      .replace(/^\(([A-Za-z])\)$/, '$1')
      .toLowerCase();
  return clean(g) === clean(p) ? yes('same text') : no('different text');
}

/** `x < 3` → (-∞, 3); `5 \le x` → [5, ∞). Only for one bare variable against a constant. */
function relationToInterval(r: Extract<Value, { kind: 'relation' }>): Value | undefined {
  if (r.op !== '<' && r.op !== '<=') return undefined;
  if (r.lhs.kind !== 'expr' || r.rhs.kind !== 'expr') return undefined;
  const open = r.op === '<';
  const inf = (json: Json): Value => ({ kind: 'expr', json, src: '' });
  if (typeof r.lhs.json === 'string' && freeSymbols(r.rhs.json).size === 0) {
    return {
      kind: 'interval',
      lo: inf('NegativeInfinity'),
      hi: r.rhs,
      loOpen: true,
      hiOpen: open,
      fromRelation: true,
    };
  }
  if (typeof r.rhs.json === 'string' && freeSymbols(r.lhs.json).size === 0) {
    return {
      kind: 'interval',
      lo: r.lhs,
      hi: inf('PositiveInfinity'),
      loOpen: open,
      hiOpen: true,
      fromRelation: true,
    };
  }
  return undefined;
}

function compareRelations(
  g: Extract<Value, { kind: 'relation' }>,
  p: Extract<Value, { kind: 'relation' }>,
  ctx: CompareContext,
): Outcome {
  if (g.op !== p.op) return no(`relations differ (${g.op} vs ${p.op})`);
  if (g.assignment && p.assignment && g.lhsSrc === p.lhsSrc) return compareValues(g.rhs, p.rhs, ctx);
  if (g.lhs.kind !== 'expr' || g.rhs.kind !== 'expr' || p.lhs.kind !== 'expr' || p.rhs.kind !== 'expr') {
    const l = compareValues(g.lhs, p.lhs, ctx);
    if (!l.equal) return no(`left sides differ: ${l.reason}`);
    const r = compareValues(g.rhs, p.rhs, ctx);
    return r.equal ? yes('same relation') : no(`right sides differ: ${r.reason}`);
  }
  const dg: Json = ['Subtract', g.lhs.json, g.rhs.json];
  const dp: Json = ['Subtract', p.lhs.json, p.rhs.json];
  // Same solution set: lhs − rhs of one is a constant multiple of the other's (positive for inequalities).
  return proportional(dg, dp, g.op === '=' || g.op === '!=' ? 'any' : 'positive', ctx);
}

/** An integer literal (any size) as a BigInt: integers compare exactly, never within a tolerance. */
function integerLiteral(json: Json): bigint | undefined {
  const neg = Array.isArray(json) && json[0] === 'Negate' && json.length === 2;
  const inner = neg ? (json as Json[])[1] : json;
  let v: bigint | undefined;
  if (typeof inner === 'number' && Number.isSafeInteger(inner)) v = BigInt(inner);
  else if (typeof inner === 'object' && !Array.isArray(inner) && inner.num && /^-?\d+$/.test(inner.num)) {
    v = BigInt(inner.num);
  }
  return v === undefined ? undefined : neg ? -v : v;
}

export function compareExprs(g: Json, p: Json, ctx: CompareContext): Outcome {
  if (JSON.stringify(g) === JSON.stringify(p)) return yes('same expression');
  const bg = integerLiteral(g);
  const bp = integerLiteral(p);
  if (bg !== undefined && bp !== undefined) return bg === bp ? yes('same integer') : no('different integers');
  const symbols = [...new Set([...freeSymbols(g), ...freeSymbols(p)])];
  if (!ctx.strict) p = renameLoneVariable(g, p);
  if (symbols.length === 0) {
    const a = evaluate(g, noSymbols);
    const b = evaluate(p, noSymbols);
    return numsClose(a, b, ctx.precision)
      ? yes('numerically equal')
      : no(`different values (${show(a)} vs ${show(b)})`);
  }
  let valid = 0;
  for (const point of samplePoints(symbols)) {
    if (performance.now() > ctx.deadline) return no('time limit exceeded');
    const a = evaluate(g, point);
    const b = evaluate(p, point);
    if (!isFiniteNum(a) || !isFiniteNum(b)) continue;
    if (!numsCloseRelative(a, b))
      return no(`expressions differ at a random point (${show(a)} vs ${show(b)})`);
    if (++valid >= IDENTITY_POINTS) break;
  }
  if (valid >= MIN_VALID_POINTS) return yes(`equal at ${valid} random points`);
  if (performance.now() <= ctx.deadline && sameCanonicalForm(g, p)) return yes('same canonical form');
  return no('expressions could not be evaluated at enough points');
}

function proportional(dg: Json, dp: Json, sign: 'any' | 'positive', ctx: CompareContext): Outcome {
  const symbols = [...new Set([...freeSymbols(dg), ...freeSymbols(dp)])];
  if (symbols.length === 0) return no('relations between constants are compared side by side only');
  let ratio: number | undefined;
  let valid = 0;
  for (const point of samplePoints(symbols)) {
    if (performance.now() > ctx.deadline) return no('time limit exceeded');
    const a = evaluate(dg, point);
    const b = evaluate(dp, point);
    if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b))
      continue;
    const za = Math.abs(a) < 1e-12;
    const zb = Math.abs(b) < 1e-12;
    if (za !== zb) return no('relations differ at a random point');
    valid++;
    if (za) continue;
    const r = a / b;
    if (ratio === undefined) ratio = r;
    else if (Math.abs(r - ratio) > IDENTITY_TOLERANCE * Math.max(1, Math.abs(ratio))) {
      return no('relations are not multiples of each other');
    }
    if (valid >= IDENTITY_POINTS) break;
  }
  if (valid < MIN_VALID_POINTS) return no('relations could not be evaluated at enough points');
  if (sign === 'positive' && ratio !== undefined && ratio < 0)
    return no('inequalities point in opposite directions');
  return yes('equivalent relations');
}

const noSymbols: Env = () => NaN;

/**
 * Points for the identity check: each symbol gets a value from a hash of its name and the point index,
 * first in (0.3, 2.7) (safe for roots and logs), then larger and negative ranges if those give too few
 * finite values.
 */
function* samplePoints(symbols: string[]): Generator<Env> {
  const ranges: [number, number][] = [
    [0.3, 2.7],
    [3, 30],
    [-2.7, -0.3],
  ];
  for (const [lo, hi] of ranges) {
    for (let k = 0; k < IDENTITY_POINTS; k++) {
      const values = new Map<string, number>();
      for (const s of symbols) values.set(s, lo + (hi - lo) * hashUnit(s, k));
      yield (name) => values.get(name) ?? lo + (hi - lo) * hashUnit(name, k);
    }
  }
}

/** A number in [0, 1) from a name and an index (FNV-1a, then scaled). */
function hashUnit(name: string, k: number): number {
  let h = 2166136261 ^ (k * 374761393);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  h ^= h >>> 13;
  h = Math.imul(h, 1274126177);
  return ((h >>> 0) % 1_000_003) / 1_000_003;
}

/** Non-strict mode: `f(y)` for gold `f(x)` when each side has exactly one variable. */
function renameLoneVariable(g: Json, p: Json): Json {
  const gs = [...freeSymbols(g)];
  const ps = [...freeSymbols(p)];
  if (gs.length !== 1 || ps.length !== 1 || gs[0] === ps[0]) return p;
  const from = ps[0];
  const to = gs[0];
  const walk = (j: Json): Json => (j === from ? to : Array.isArray(j) ? j.map(walk) : j);
  return walk(p);
}

function isFiniteNum(v: Num): boolean {
  return typeof v === 'number' ? Number.isFinite(v) : v.data.every(Number.isFinite);
}

/** Equal to `precision` decimal places, or relatively (for numbers too large for absolute digits to matter). */
export function numbersClose(a: number, b: number, precision: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return false;
  if (a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  const diff = Math.abs(a - b);
  return (
    diff <= 10 ** -precision * (1 + 1e-9) || diff <= RELATIVE_TOLERANCE * Math.max(Math.abs(a), Math.abs(b))
  );
}

function numsClose(a: Num, b: Num, precision: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') return numbersClose(a, b, precision);
  if (typeof a === 'number' || typeof b === 'number') return false;
  return (
    a.rows === b.rows && a.cols === b.cols && a.data.every((x, i) => numbersClose(x, b.data[i], precision))
  );
}

function numsCloseRelative(a: Num, b: Num): boolean {
  const close = (x: number, y: number) =>
    Math.abs(x - y) <= IDENTITY_TOLERANCE * Math.max(1, Math.abs(x), Math.abs(y));
  if (typeof a === 'number' && typeof b === 'number') return close(a, b);
  if (typeof a === 'number' || typeof b === 'number') return false;
  return a.rows === b.rows && a.cols === b.cols && a.data.every((x, i) => close(x, b.data[i]));
}

function show(v: Num): string {
  return typeof v === 'number' ? String(v) : `${v.rows}×${v.cols} matrix`;
}
