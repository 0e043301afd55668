/**
 * From a normalised answer string to a structured value: numbers and expressions (MathJSON from the
 * LaTeX parser), plain text, bare lists, sets, tuples, intervals, unions, equations and inequalities.
 * The structure is decided here, from the text, so that `(1,2)` can stay ambiguous between a pair and an
 * open interval until it is compared.
 */
import { matchBrace, nestingDepth, splitTopLevel } from './braces.ts';
import {
  MAX_ANSWER_CHARS,
  MAX_BRACE_DEPTH,
  MAX_ELEMENTS,
  MAX_PARSE_CHARS,
  MAX_STRUCTURE_DEPTH,
  PARSE_CACHE_SIZE,
} from './limits.ts';
import { parseLatex, plainNumber, type Json } from './latex.ts';
import { Lru } from './lru.ts';
import { unwrapTextMacros } from './normalize.ts';

export type { Json } from './latex.ts';

export type RelationOp = '=' | '<' | '<=' | '!=';

export type Value =
  | { kind: 'expr'; json: Json; src: string }
  | { kind: 'text'; text: string }
  /** Several answers with no brackets ("1, 2", "\boxed{1} and \boxed{2}"): unordered, ordered against a tuple. */
  | { kind: 'list'; items: Value[] }
  | { kind: 'set'; items: Value[] }
  /** `paren` marks "(a, b)", which may also be read as an open interval. */
  | { kind: 'tuple'; items: Value[]; paren: boolean }
  /** `fromRelation` marks an interval written as a double inequality (`-2 \le x \le 7`). */
  | { kind: 'interval'; lo: Value; hi: Value; loOpen: boolean; hiOpen: boolean; fromRelation?: boolean }
  | { kind: 'union'; parts: Value[] }
  /** `assignment` marks a left side that names the answer (`x = 3`, `f(x) = 1`, `(p,q) = (3,2)`). */
  | {
      kind: 'relation';
      op: RelationOp;
      lhs: Value;
      rhs: Value;
      src: string;
      assignment: boolean;
      lhsSrc: string;
    }
  | { kind: 'invalid'; reason: string; src: string };

/**
 * Letters in a row that make a word rather than a product of variables ("Even", "Evelyn"; not "xyz").
 * The LaTeX parser would read prose as a long product of letters, slowly and meaninglessly.
 */
const PROSE_WORD_LETTERS = 4;

/** Deadline (a `performance.now()` value) for the parse in progress; parsing is synchronous, so one at a time. */
let parseDeadline = Infinity;

/** `buildValue` that refuses to start another LaTeX parse after `deadline`. */
export function buildValueWithin(input: string, deadline: number): Value {
  parseDeadline = deadline;
  try {
    return buildValue(input);
  } finally {
    parseDeadline = Infinity;
  }
}

export function buildValue(input: string, depth = 0): Value {
  const src = input.trim();
  if (src.length === 0) return { kind: 'invalid', reason: 'empty answer', src };
  if (src.length > MAX_ANSWER_CHARS)
    return { kind: 'invalid', reason: `answer longer than ${MAX_ANSWER_CHARS} characters`, src };
  if (depth > MAX_STRUCTURE_DEPTH || nestingDepth(src) > MAX_BRACE_DEPTH)
    return { kind: 'invalid', reason: 'answer nested too deeply', src };

  const pm = expandPlusMinus(src);
  if (pm) return { kind: 'list', items: pm.map((s) => buildValue(s, depth + 1)) };

  const inSet = /^(?:[a-zA-Z](?:_\{?\w+\}?)?|\([a-zA-Z, ]+\))\s*\\in(?![a-zA-Z])\s*/.exec(src);
  if (inSet) return buildValue(src.slice(inSet[0].length), depth + 1);

  const withConnectors = src.replace(
    /\\text\s*\{\s*,?\s*(?:and|or)\s*\}|(?<![a-zA-Z\\])(?:and|or)(?![a-z])/g,
    ',',
  );
  for (const sep of [';', ',']) {
    const parts = splitTopLevel(withConnectors, [sep]).filter((p) => p.length > 0);
    if (parts.length > 1) {
      if (parts.length > MAX_ELEMENTS)
        return { kind: 'invalid', reason: `more than ${MAX_ELEMENTS} elements`, src };
      return { kind: 'list', items: parts.map((p) => buildValue(p, depth + 1)) };
    }
  }

  const relation = buildRelation(src, depth);
  if (relation) return relation;

  const unionParts = splitTopLevel(src, ['\\cup']);
  if (unionParts.length > 1) return { kind: 'union', parts: unionParts.map((p) => buildValue(p, depth + 1)) };

  const bracketed = buildBracketed(src, depth);
  if (bracketed) return bracketed;

  const text = asText(src);
  if (text !== undefined) return { kind: 'text', text };

  return buildExpr(src);
}

/** `a \pm b` → [`a + b`, `a - b`] (the first ± only; the recursion expands the rest). */
function expandPlusMinus(src: string): string[] | undefined {
  const m = /\\(pm|mp)(?![a-zA-Z])/.exec(src);
  if (!m) return undefined;
  const before = src.slice(0, m.index);
  const after = src.slice(m.index + m[0].length);
  // A leading ± ("\pm 2021") means both signs of what follows.
  return [`${before}+${after}`, `${before}-${after}`].map((s) => s.replace(/^\s*\+/, ''));
}

const RELATION_TOKENS: readonly [string, string][] = [
  ['\\approx', '~'],
  ['\\le', '<='],
  ['\\ge', '>='],
  ['\\ne', '!='],
  ['<', '<'],
  ['>', '>'],
  ['=', '='],
];

interface Chain {
  parts: string[];
  ops: string[];
}

/** Splits at top-level relation symbols, keeping which symbol each was. */
function relationChain(src: string): Chain {
  const parts: string[] = [];
  const ops: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === '{' || ch === '(' || ch === '[') depth++;
    else if (ch === '}' || ch === ')' || ch === ']') depth = Math.max(0, depth - 1);
    if (depth > 0) {
      if (ch === '\\') i++;
      continue;
    }
    for (const [tok, op] of RELATION_TOKENS) {
      if (!src.startsWith(tok, i)) continue;
      if (tok.startsWith('\\') && /[a-zA-Z]/.test(src[i + tok.length] ?? '')) continue;
      parts.push(src.slice(start, i).trim());
      ops.push(op);
      start = i + tok.length;
      i = start - 1;
      break;
    }
    if (ch === '\\' && start <= i) i++;
  }
  parts.push(src.slice(start).trim());
  return { parts, ops };
}

function buildRelation(src: string, depth: number): Value | undefined {
  let { parts, ops } = relationChain(src);
  if (ops.length === 0) return undefined;
  const approx = ops.indexOf('~');
  if (approx >= 0) {
    // "x \approx 11" means 11; "x = 1/3 \approx 0.33" means x = 1/3.
    if (approx === 0 && isSymbolLike(parts[0])) return buildValue(parts.slice(1).join(' '), depth + 1);
    parts = parts.slice(0, approx + 1);
    ops = ops.slice(0, approx);
    if (ops.length === 0) return buildValue(parts[0], depth + 1);
  }
  if (ops.every((o) => o === '=')) {
    // A chain of steps "x = 5+5+1 = 11": the last part is the answer.
    if (parts.length > 2) return buildValue(parts[parts.length - 1], depth + 1);
    return relation('=', parts[0], parts[1], src, depth);
  }
  if (parts.length === 2) {
    const op = ops[0];
    if (op === '=' || op === '!=' || op === '<' || op === '<=')
      return relation(op, parts[0], parts[1], src, depth);
    return relation(op === '>' ? '<' : '<=', parts[1], parts[0], src, depth);
  }
  if (parts.length === 3 && isSymbolLike(parts[1])) {
    const up = ops.every((o) => o === '<' || o === '<=');
    const down = ops.every((o) => o === '>' || o === '>=');
    if (up || down) {
      const [lo, hi] = up ? [parts[0], parts[2]] : [parts[2], parts[0]];
      const [loOp, hiOp] = up ? [ops[0], ops[1]] : [ops[1], ops[0]];
      return {
        kind: 'interval',
        lo: buildValue(lo, depth + 1),
        hi: buildValue(hi, depth + 1),
        loOpen: loOp === '<' || loOp === '>',
        hiOpen: hiOp === '<' || hiOp === '>',
        fromRelation: true,
      };
    }
  }
  return { kind: 'invalid', reason: 'unsupported chain of relations', src };
}

function relation(op: RelationOp, lhs: string, rhs: string, src: string, depth: number): Value {
  if (lhs.length === 0 || rhs.length === 0)
    return { kind: 'invalid', reason: `relation with an empty side`, src };
  return {
    kind: 'relation',
    op,
    lhs: buildValue(lhs, depth + 1),
    rhs: buildValue(rhs, depth + 1),
    src,
    assignment: op === '=' && isSymbolLike(lhs),
    lhsSrc: lhs.replace(/\s+/g, ''),
  };
}

/**
 * A name rather than a quantity: `x`, `a_3`, `f(x)`, `|AB|`, `A:B`, `\frac{NO}{BO}`, `(p,q)`, `S_{MBCN}:S`.
 * An equation with such a left side is an assignment, and its right side is the answer.
 */
export function isSymbolLike(raw: string): boolean {
  const s = unwrapTextMacros(raw).replace(/\s+/g, '');
  if (s.length === 0 || s.length > 40 || /\d/.test(s.replace(SUBSCRIPT, ''))) return false;
  // Removing name tokens one by one (a single linear pass) must leave nothing behind.
  return s.replace(NAME_TOKEN, '') === '';
}

const SUBSCRIPT = /_\{?\w+\}?/g;

/** One piece of a name: a letter with subscript, prime or arguments, a command, |AB|, a ratio of names. */
const NAME_TOKEN =
  /\\frac\{[a-zA-Z]+\}\{[a-zA-Z]+\}|\\[a-zA-Z]+(?:_\{?\w+\}?)?|[a-zA-Z](?:_\{?[\w,]+\}?)?'?(?:\([a-zA-Z,]*\))?|\|[a-zA-Z]+\||\([a-zA-Z,]+\)|[:/]/g;

/** `\{…\}`, `(…)`, `[…]`, `[…)`, `(…]`, `{…}` around the whole answer. */
function buildBracketed(src: string, depth: number): Value | undefined {
  if (src.startsWith('\\{') && src.endsWith('\\}') && closesAtEnd(src, 2)) {
    const inner = src.slice(2, -2);
    const items =
      inner.trim() === '' ? [] : splitTopLevel(inner, [',', ';']).map((p) => buildValue(p, depth + 1));
    return { kind: 'set', items };
  }
  if (src.startsWith('{') && matchBrace(src, 0) === src.length)
    return buildValue(src.slice(1, -1), depth + 1);
  const open = src[0];
  const close = src[src.length - 1];
  if ((open !== '(' && open !== '[') || (close !== ')' && close !== ']') || !closesAtEnd(src, 1))
    return undefined;
  const inner = src.slice(1, -1);
  const items = splitTopLevel(inner, [',', ';']);
  if (items.length === 1) {
    const matrix = inner.trim().startsWith('\\begin');
    return (open === '(' && close === ')') || matrix ? buildValue(inner, depth + 1) : undefined;
  }
  if (items.length > MAX_ELEMENTS)
    return { kind: 'invalid', reason: `more than ${MAX_ELEMENTS} elements`, src };
  const values = items.map((p) => buildValue(p, depth + 1));
  if (items.length === 2 && !(open === '(' && close === ')')) {
    return { kind: 'interval', lo: values[0], hi: values[1], loOpen: open === '(', hiOpen: close === ')' };
  }
  return { kind: 'tuple', items: values, paren: open === '(' && close === ')' };
}

/** True when the bracket opened at 0 is the one closed by the last character. */
function closesAtEnd(src: string, openLen: number): boolean {
  let depth = 0;
  for (let i = 0; i < src.length; i++) {
    let ch = src[i];
    if (ch === '\\') {
      const next = src[i + 1];
      if (next !== '{' && next !== '}') {
        i++;
        continue;
      }
      ch = next;
      i++;
    }
    if (ch === '{' || ch === '(' || ch === '[') depth++;
    else if (ch === '}' || ch === ')' || ch === ']') {
      depth--;
      if (depth === 0) return i === src.length - 1 && (openLen === 1 || src[i - 1] === '\\');
    }
  }
  return false;
}

/** Words, not mathematics: `\text{Evelyn}`, `\text{(C)}`, "The midpoints form a regular hexagon". */
function asText(src: string): string | undefined {
  const hadText = /\\(?:text|textbf|textnormal|mbox|mathrm)\s*\{/.test(src);
  const plain = unwrapTextMacros(src).trim();
  const choice = /^\(?([A-Z])\)?$/.exec(plain);
  if (hadText && choice) return choice[1];
  if (hadText && /^[A-Za-z][A-Za-z\s'.-]*$/.test(plain)) return plain;
  if (/^[A-Za-z]+(?:\s+[A-Za-z]+){2,}$/.test(plain)) return plain;
  // A word of PROSE_WORD_LETTERS or more letters outside commands is language, not a product of variables.
  const outsideCommands = plain
    .replace(/\\(?:begin|end)\s*\{\w*\}(?:\{[^{}]*\})?|\\[a-zA-Z]+/g, ' ')
    .replace(/_\{?\w+\}?/g, ' ');
  if (new RegExp(`[a-zA-Z]{${PROSE_WORD_LETTERS},}`).test(outsideCommands)) return plain;
  return undefined;
}

/** Parsed expressions by source text: sub-expressions ("x", "\\pi") repeat across answers. */
const exprCache = new Lru<Value>(PARSE_CACHE_SIZE);

function buildExpr(src: string): Value {
  const hit = exprCache.get(src);
  if (hit) return hit;
  const v = parseExpr(src);
  if (v.kind === 'invalid' && v.reason.startsWith('time limit')) return v;
  exprCache.set(src, v);
  return v;
}

function parseExpr(src: string): Value {
  const fast = plainNumber(src);
  if (fast !== undefined) return { kind: 'expr', json: fast, src };
  if (src.length > MAX_PARSE_CHARS) {
    return { kind: 'invalid', reason: `expression longer than ${MAX_PARSE_CHARS} characters`, src };
  }
  if (performance.now() > parseDeadline)
    return { kind: 'invalid', reason: 'time limit exceeded while parsing', src };
  const parsed = parseLatex(src);
  if ('error' in parsed) return { kind: 'invalid', reason: parsed.error, src };
  return { kind: 'expr', json: parsed.json, src };
}
