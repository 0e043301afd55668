/**
 * The LaTeX parser boundary: plain numbers and fractions read directly (most answers, and no parser
 * cost), everything else through @cortex-js/compute-engine's `parse` in raw form; plus the engine's
 * canonical form as a last-resort structural comparison.
 */
import { ComputeEngine } from '@cortex-js/compute-engine';
import { parseSimpleLatex } from './fastLatex.ts';

/** MathJSON as the parser returns it (numbers, symbols, `{num}` objects, `[head, ...args]`). */
export type Json = number | string | { num?: string; str?: string; sym?: string } | Json[];

const ce = new ComputeEngine();
// The first parse builds the parser's tables (tens of milliseconds): pay that at load, not inside a time limit.
for (const warm of [
  '\\frac{x^2}{2}+\\sqrt{3}',
  'V_{1}:V_{2}',
  '\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}',
  '\\sin(x)\\le 2',
]) {
  ce.parse(warm, { form: 'raw' });
}

/** Letters read as function names when followed by parentheses (`f(x)`); other letters multiply (`x(x+1)`). */
const FUNCTION_LETTERS = new Set(['f', 'g', 'h', 'p', 'q', 'F', 'G', 'H', 'P', 'Q', 'W']);

/** Plain decimals and simple fractions skip the LaTeX parser (most answers are numbers). */
const PLAIN_NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)$/;
const PLAIN_FRACTION = /^([-+]?)\s*(?:\\frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}|(\d+)\s*\/\s*(\d+))$/;

/**
 * LaTeX → MathJSON through the compute engine, raw form (no simplification), with invalid parses refused
 * (two invalid parses would otherwise compare equal) and `f(x)` rewritten as a function application.
 */
export function parseLatex(src: string): { json: Json } | { error: string } {
  if (/^[a-zA-Z]$/.test(src)) return { json: src };
  const latex = src
    .replace(/\\mathrm\s*\{\s*e\s*\}/g, 'e')
    .replace(/\\(?:text|mathrm|textbf|mbox|operatorname)\s*\{([^{}]*)\}/g, '$1')
    .replace(/\\begin\{array\}\{[^}]*\}/g, '\\begin{pmatrix}')
    .replace(/\\end\{array\}/g, '\\end{pmatrix}');
  const simple = parseSimpleLatex(latex, FUNCTION_LETTERS);
  if (simple !== undefined) return { json: simple };
  let json: Json;
  try {
    json = ce.parse(latex, { form: 'raw' }).json as Json;
  } catch (err) {
    return { error: `LaTeX parser failed: ${(err as Error).message}` };
  }
  const error = findError(json);
  if (error) return { error: `not valid LaTeX (${error})` };
  return { json: rewriteFunctions(json) };
}

export function plainNumber(src: string): Json | undefined {
  const s = src.replace(/\s+/g, '');
  if (PLAIN_NUMBER.test(s)) {
    const digits = s.replace(/^\+/, '');
    const n = Number(digits);
    // Integers beyond 2^53 keep their digits so they compare exactly.
    if (/^-?\d+$/.test(digits) && !Number.isSafeInteger(n)) {
      const neg = digits.startsWith('-');
      const num = { num: digits.replace(/^-/, '').replace(/^0+(?=\d)/, '') };
      return neg ? ['Negate', num] : num;
    }
    return n;
  }
  const f = PLAIN_FRACTION.exec(s);
  if (f) {
    const frac: Json = ['Divide', Number(f[2] ?? f[4]), Number(f[3] ?? f[5])];
    return f[1] === '-' ? ['Negate', frac] : frac;
  }
  return undefined;
}

/**
 * Structural equality after the engine's canonicalisation (sorted sums and products, folded constants):
 * the fallback for expressions the numeric check cannot evaluate (sums with symbolic bounds). Only
 * ever called on parses already checked to be valid.
 */
export function sameCanonicalForm(a: Json, b: Json): boolean {
  try {
    return ce.box(a as Parameters<typeof ce.box>[0]).isSame(ce.box(b as Parameters<typeof ce.box>[0]));
  } catch {
    return false;
  }
}

/** The first `["Error", …]` in the tree, as text. */
function findError(json: Json): string | undefined {
  if (!Array.isArray(json)) return undefined;
  if (json[0] === 'Error') return JSON.stringify(json[1] ?? '');
  for (let i = 1; i < json.length; i++) {
    const e = findError(json[i]);
    if (e) return e;
  }
  return undefined;
}

/** `["InvisibleOperator", "f", ["Delimiter", x]]` → `["Apply", "f", x]` for function letters. */
function rewriteFunctions(json: Json): Json {
  if (!Array.isArray(json)) return json;
  const args = json.map((a, i) => (i === 0 ? a : rewriteFunctions(a)));
  if (args[0] !== 'InvisibleOperator') return args;
  const out: Json[] = ['InvisibleOperator'];
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    const b = args[i + 1];
    if (typeof a === 'string' && FUNCTION_LETTERS.has(a) && Array.isArray(b) && b[0] === 'Delimiter') {
      out.push(['Apply', a, ...delimiterArgs(b)]);
      i++;
    } else out.push(a);
  }
  return out.length === 2 ? out[1] : out;
}

function delimiterArgs(d: Json[]): Json[] {
  const inner = d[1];
  if (Array.isArray(inner) && inner[0] === 'Sequence') return inner.slice(1);
  return inner === undefined ? [] : [inner];
}
