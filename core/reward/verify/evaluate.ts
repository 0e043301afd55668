/**
 * Numeric evaluation of MathJSON in float64, with free symbols bound to given values and unknown
 * functions (`f(x)`) replaced by a fixed pseudo-random function of their name and arguments. Anything
 * unsupported evaluates to NaN; nothing here throws or loops without bound.
 */
import type { Json } from './latex.ts';

/** A real number, or a matrix (rows of numbers) for `\begin{pmatrix}` answers. */
export type Num = number | Matrix;
export interface Matrix {
  rows: number;
  cols: number;
  data: number[];
}

/** Largest n for which n! is finite in float64 (170! ≈ 7.3e306). */
const MAX_FACTORIAL = 170;

/** Resolves a free symbol to its value at the current point. */
export type Env = (name: string) => number;

const CONSTANTS: Record<string, number> = {
  Pi: Math.PI,
  ExponentialE: Math.E,
  e: Math.E,
  PositiveInfinity: Infinity,
  NegativeInfinity: -Infinity,
  ComplexInfinity: NaN,
  NaN: NaN,
  Nothing: NaN,
};

/** Names that are constants, not free variables. */
export function isConstantSymbol(name: string): boolean {
  return name in CONSTANTS;
}

export function evaluate(json: Json, env: Env): Num {
  if (typeof json === 'number') return json;
  if (typeof json === 'string') return json in CONSTANTS ? CONSTANTS[json] : env(json);
  if (!Array.isArray(json)) {
    if (json.num !== undefined) return parseNumString(json.num);
    if (json.sym !== undefined) return evaluate(json.sym, env);
    return NaN;
  }
  const head = json[0];
  const args = json.slice(1);
  const ev = (a: Json) => evaluate(a, env);
  const evn = (a: Json) => scalar(ev(a));
  switch (head) {
    case 'Add':
      return args.length === 0 ? 0 : args.map(ev).reduce(add);
    case 'Subtract':
      return args.length === 1 ? neg(ev(args[0])) : add(ev(args[0]), neg(ev(args[1])));
    case 'Negate':
      return neg(ev(args[0]));
    case 'Multiply':
    case 'InvisibleOperator':
      return args.map(ev).reduce(mul, 1);
    case 'Divide':
    case 'Rational': {
      const d = evn(args[1]);
      const n = ev(args[0]);
      return d === 0 ? NaN : mul(n, 1 / d);
    }
    case 'Colon': {
      const d = evn(args[1]);
      return d === 0 ? NaN : evn(args[0]) / d;
    }
    case 'Power': {
      const base = ev(args[0]);
      const exp = evn(args[1]);
      if (typeof base !== 'number')
        return Number.isInteger(exp) && exp >= 1 && exp <= 16 ? matPow(base, exp) : NaN;
      return realPow(base, exp);
    }
    case 'Square':
      return realPow(evn(args[0]), 2);
    case 'Sqrt':
      return Math.sqrt(evn(args[0]));
    case 'Root':
      return realPow(evn(args[0]), 1 / evn(args[1]));
    case 'Exp':
      return Math.exp(evn(args[0]));
    case 'Ln':
      return Math.log(evn(args[0]));
    case 'Log':
      return args.length > 1 ? Math.log(evn(args[0])) / Math.log(evn(args[1])) : Math.log10(evn(args[0]));
    case 'Lb':
      return Math.log2(evn(args[0]));
    case 'Lg':
      return Math.log10(evn(args[0]));
    case 'Abs': {
      const v = ev(args[0]);
      return typeof v === 'number' ? Math.abs(v) : NaN;
    }
    case 'Sin':
      return Math.sin(evn(args[0]));
    case 'Cos':
      return Math.cos(evn(args[0]));
    case 'Tan':
      return Math.tan(evn(args[0]));
    case 'Cot':
      return 1 / Math.tan(evn(args[0]));
    case 'Sec':
      return 1 / Math.cos(evn(args[0]));
    case 'Csc':
      return 1 / Math.sin(evn(args[0]));
    case 'Arcsin':
      return Math.asin(evn(args[0]));
    case 'Arccos':
      return Math.acos(evn(args[0]));
    case 'Arctan':
      return Math.atan(evn(args[0]));
    case 'Sinh':
      return Math.sinh(evn(args[0]));
    case 'Cosh':
      return Math.cosh(evn(args[0]));
    case 'Tanh':
      return Math.tanh(evn(args[0]));
    case 'Floor':
      return Math.floor(evn(args[0]));
    case 'Ceil':
      return Math.ceil(evn(args[0]));
    case 'Max':
      return Math.max(...args.map(evn));
    case 'Min':
      return Math.min(...args.map(evn));
    case 'Factorial':
      return factorial(evn(args[0]));
    case 'Binomial':
      return binomial(evn(args[0]), evn(args[1]));
    case 'Degrees':
      return (evn(args[0]) * Math.PI) / 180;
    case 'Delimiter': {
      const inner = args[0];
      if (Array.isArray(inner) && inner[0] === 'Sequence') return inner.length === 2 ? ev(inner[1]) : NaN;
      return inner === undefined ? NaN : ev(inner);
    }
    case 'Sequence':
      return args.length === 1 ? ev(args[0]) : NaN;
    case 'Subscript':
      // F_{n-1} is a sequence: a function of its index
      return unknownFunction(JSON.stringify(args[0]), [evn(args[1])]);
    case 'Apply':
      return unknownFunction(String(args[0]), args.slice(1).map(evn));
    case 'Matrix':
      return matrixFromList(args[0], env);
    default:
      return NaN;
  }
}

/** A number as the parser spells it in `{num}` (big integers, repeating decimals like "0.(3)"). */
function parseNumString(s: string): number {
  const rep = /^(-?\d*)\.(\d*)\((\d+)\)$/.exec(s);
  if (rep) {
    const [, int, fixed, cycle] = rep;
    const base = Number(`${int || '0'}.${fixed}`);
    const sign = int.startsWith('-') ? -1 : 1;
    return base + (sign * Number(cycle)) / ((10 ** cycle.length - 1) * 10 ** fixed.length);
  }
  return Number(s.replace(/^\+/, ''));
}

function scalar(v: Num): number {
  return typeof v === 'number' ? v : v.rows === 1 && v.cols === 1 ? v.data[0] : NaN;
}

/** x^y over the reals: odd roots of negatives are real (∛-8 = -2), even roots are NaN. */
function realPow(base: number, exp: number): number {
  if (base < 0 && !Number.isInteger(exp)) {
    const inv = 1 / exp;
    if (
      Number.isInteger(Math.round(inv)) &&
      Math.abs(inv - Math.round(inv)) < 1e-12 &&
      Math.round(inv) % 2 !== 0
    ) {
      return -Math.pow(-base, exp);
    }
    return NaN;
  }
  return Math.pow(base, exp);
}

function factorial(n: number): number {
  if (!Number.isInteger(n) || n < 0) return NaN;
  if (n > MAX_FACTORIAL) return Infinity;
  let r = 1;
  for (let i = 2; i <= n; i++) r *= i;
  return r;
}

function binomial(n: number, k: number): number {
  if (!Number.isInteger(k) || k < 0) return NaN;
  if (k > MAX_FACTORIAL) return NaN;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** A deterministic smooth function standing in for an unknown `f(x)`: same name and arguments, same value. */
function unknownFunction(name: string, args: number[]): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 1000003;
  let v = (h % 97) / 97;
  args.forEach((a, i) => {
    v += Math.sin(a * (1.3 + (h % 11) / 7) + i * 0.7 + h);
  });
  return v;
}

function matrixFromList(list: Json, env: Env): Num {
  if (!Array.isArray(list) || list[0] !== 'List') return NaN;
  const rows = list.slice(1);
  const cells: number[] = [];
  let cols = -1;
  for (const row of rows) {
    const items = Array.isArray(row) && row[0] === 'List' ? row.slice(1) : [row];
    if (cols >= 0 && items.length !== cols) return NaN;
    cols = items.length;
    for (const it of items) cells.push(scalar(evaluate(it, env)));
  }
  return { rows: rows.length, cols: Math.max(cols, 0), data: cells };
}

function add(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (typeof a === 'number' || typeof b === 'number') return NaN;
  if (a.rows !== b.rows || a.cols !== b.cols) return NaN;
  return { rows: a.rows, cols: a.cols, data: a.data.map((x, i) => x + b.data[i]) };
}

function neg(a: Num): Num {
  return typeof a === 'number' ? -a : { ...a, data: a.data.map((x) => -x) };
}

function mul(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (typeof a === 'number') return { ...(b as Matrix), data: (b as Matrix).data.map((x) => a * x) };
  if (typeof b === 'number') return { ...a, data: a.data.map((x) => x * b) };
  if (a.cols !== b.rows) return NaN;
  const data = new Array<number>(a.rows * b.cols).fill(0);
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < b.cols; j++)
      for (let k = 0; k < a.cols; k++)
        data[i * b.cols + j] += a.data[i * a.cols + k] * b.data[k * b.cols + j];
  return { rows: a.rows, cols: b.cols, data };
}

function matPow(m: Matrix, n: number): Num {
  let r: Num = m;
  for (let i = 1; i < n; i++) r = mul(r, m);
  return r;
}

/** Free symbols of an expression (names of unknowns, including subscripted ones), constants excluded. */
export function freeSymbols(json: Json, out: Set<string> = new Set()): Set<string> {
  if (typeof json === 'string') {
    if (!isConstantSymbol(json)) out.add(json);
  } else if (Array.isArray(json)) {
    if (json[0] === 'Apply' || json[0] === 'Subscript') json.slice(2).forEach((a) => freeSymbols(a, out));
    else json.slice(1).forEach((a) => freeSymbols(a, out));
  }
  return out;
}
