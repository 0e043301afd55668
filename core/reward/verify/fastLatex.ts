/**
 * A small recursive-descent parser for the LaTeX most answers use — numbers, letters, + − × ÷ (·, \times,
 * implicit products), powers, \frac, \sqrt, \pi, parentheses and braces — straight to MathJSON, in about a
 * tenth of the general parser's time. Anything outside that subset returns undefined and goes to the
 * general parser, so this only ever adds speed, never a different reading: it builds the same MathJSON
 * heads the general parser's raw form uses for these constructs.
 */
import type { Json } from './latex.ts';

/** Letters read as function names before parentheses (kept in step with latex.ts). */
export type FunctionLetters = ReadonlySet<string>;

class Bail extends Error {}

/** MathJSON for `src`, or undefined when it uses anything beyond the subset. */
export function parseSimpleLatex(src: string, functionLetters: FunctionLetters): Json | undefined {
  if (src.length > SIMPLE_MAX_CHARS) return undefined;
  try {
    const p = new SimpleParser(src, functionLetters);
    const json = p.expr();
    p.skipSpace();
    return p.done() ? json : undefined;
  } catch (err) {
    if (err instanceof Bail) return undefined;
    throw err;
  }
}

/** Longer answers go to the general parser (the subset parser recurses on nesting). */
const SIMPLE_MAX_CHARS = 120;

class SimpleParser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly functionLetters: FunctionLetters,
  ) {}

  done(): boolean {
    return this.i === this.s.length;
  }

  skipSpace(): void {
    while (this.s[this.i] === ' ') this.i++;
  }

  private peekCommand(): string | undefined {
    const m = /^\\([a-zA-Z]+)/.exec(this.s.slice(this.i, this.i + 12));
    return m?.[1];
  }

  expr(): Json {
    const terms: Json[] = [this.term()];
    for (;;) {
      this.skipSpace();
      const ch = this.s[this.i];
      if (ch !== '+' && ch !== '-') break;
      this.i++;
      const t = this.term();
      terms.push(ch === '+' ? t : ['Negate', t]);
    }
    return terms.length === 1 ? terms[0] : ['Add', ...terms];
  }

  private term(): Json {
    const factors: Json[] = [this.unary()];
    for (;;) {
      this.skipSpace();
      const ch = this.s[this.i];
      const cmd = ch === '\\' ? this.peekCommand() : undefined;
      if (ch === '*' || cmd === 'cdot' || cmd === 'times') {
        this.i += ch === '*' ? 1 : cmd!.length + 1;
        factors.push(this.unary());
      } else if (this.startsPrimary()) {
        factors.push(this.power()); // implicit product: 2x, 3\sqrt{2}, (a+1)(b+2)
      } else break;
    }
    return factors.length === 1 ? factors[0] : ['Multiply', ...factors];
  }

  private unary(): Json {
    this.skipSpace();
    if (this.s[this.i] === '-') {
      this.i++;
      return ['Negate', this.unary()];
    }
    if (this.s[this.i] === '+') {
      this.i++;
      return this.unary();
    }
    return this.power();
  }

  private startsPrimary(): boolean {
    const ch = this.s[this.i];
    if (ch === undefined) return false;
    if (/[0-9a-zA-Z({]/.test(ch)) return true;
    const cmd = ch === '\\' ? this.peekCommand() : undefined;
    return cmd === 'frac' || cmd === 'sqrt' || cmd === 'pi';
  }

  private power(): Json {
    let base = this.primary();
    this.skipSpace();
    if (this.s[this.i] === '^') {
      this.i++;
      this.skipSpace();
      const ch = this.s[this.i];
      let exp: Json;
      if (ch === '{') exp = this.group();
      else if (ch !== undefined && /[0-9a-zA-Z]/.test(ch)) {
        this.i++;
        exp = /[0-9]/.test(ch) ? Number(ch) : ch;
        // `2^10` is 2¹·0 in LaTeX but usually meant as 1024: leave that reading to the general parser
        if (/[0-9]/.test(this.s[this.i] ?? '')) throw new Bail();
      } else throw new Bail();
      base = ['Power', base, exp];
      this.skipSpace();
      if (this.s[this.i] === '^') throw new Bail(); // a^b^c: leave associativity to the general parser
    }
    if (this.s[this.i] === '!' || this.s[this.i] === '_' || this.s[this.i] === "'") throw new Bail();
    return base;
  }

  private group(): Json {
    if (this.s[this.i] !== '{') throw new Bail();
    this.i++;
    const e = this.expr();
    this.skipSpace();
    if (this.s[this.i] !== '}') throw new Bail();
    this.i++;
    return e;
  }

  private primary(): Json {
    this.skipSpace();
    const ch = this.s[this.i];
    if (ch === undefined) throw new Bail();
    // Scientific notation ("4.46e19") reads as one number, as in the general parser.
    const num = /^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(this.s.slice(this.i, this.i + 40));
    if (num) {
      if (num[0].length > 15) throw new Bail(); // big integers keep their digits in the general path
      this.i += num[0].length;
      return Number(num[0]);
    }
    if (/[a-zA-Z]/.test(ch)) {
      this.i++;
      this.skipSpace();
      if (this.s[this.i] === '(' && this.functionLetters.has(ch)) {
        this.i++;
        const arg = this.expr();
        this.skipSpace();
        if (this.s[this.i] !== ')') throw new Bail();
        this.i++;
        return ['Apply', ch, arg];
      }
      return ch;
    }
    if (ch === '(') {
      this.i++;
      const e = this.expr();
      this.skipSpace();
      if (this.s[this.i] !== ')') throw new Bail();
      this.i++;
      return ['Delimiter', e];
    }
    if (ch === '{') return this.group();
    if (ch === '\\') {
      const cmd = this.peekCommand();
      if (cmd === 'pi') {
        this.i += 3;
        return 'Pi';
      }
      if (cmd === 'frac') {
        this.i += 5;
        this.skipSpace();
        const n = this.group();
        this.skipSpace();
        const d = this.group();
        return ['Divide', n, d];
      }
      if (cmd === 'sqrt') {
        this.i += 5;
        this.skipSpace();
        if (this.s[this.i] === '[') {
          this.i++;
          const k = this.expr();
          if (this.s[this.i] !== ']') throw new Bail();
          this.i++;
          this.skipSpace();
          return ['Root', this.group(), k];
        }
        return ['Sqrt', this.group()];
      }
    }
    throw new Bail();
  }
}
