/**
 * Symbolic dimensions. A dimension is a number or a polynomial over named symbols with integer
 * coefficients ("batch", "batch*seq", "past+seq"), kept in one canonical string form so that two dims are
 * equal exactly when their strings are. Polynomials are what reshapes (products), concatenations (sums) and
 * slices (differences) of symbolic dims produce; keeping them exact lets every shape, and every gradient
 * reduction, be decided when the graph is built rather than discovered at run time.
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** A monomial's symbols (sorted, repeated for powers) joined by '*'; '' is the constant term. */
type Poly = Map<string, number>;

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_.]*$/;

export function isSymbol(name: string): boolean {
  return SYMBOL.test(name);
}

function parse(d: Dim): Poly {
  const p: Poly = new Map();
  if (typeof d === 'number') {
    if (d !== 0) p.set('', d);
    return p;
  }
  // Canonical strings are sums of terms "c*a*b" or "a*b" separated by " + " / " - ".
  const terms = d.replace(/ - /g, ' + -').split(' + ');
  for (const term of terms) {
    let coef = 1;
    const syms: string[] = [];
    for (const f of term.split('*')) {
      const t = f.trim();
      if (/^-?\d+$/.test(t)) coef *= Number(t);
      else if (t.startsWith('-') && isSymbol(t.slice(1))) {
        coef = -coef;
        syms.push(t.slice(1));
      } else if (isSymbol(t)) syms.push(t);
      else throw new Error(`invalid symbolic dimension "${d}"`);
    }
    addTerm(p, syms.sort().join('*'), coef);
  }
  return p;
}

function addTerm(p: Poly, key: string, coef: number): void {
  const c = (p.get(key) ?? 0) + coef;
  if (c === 0) p.delete(key);
  else p.set(key, c);
}

function format(p: Poly): Dim {
  if (p.size === 0) return 0;
  if (p.size === 1 && p.has('')) return p.get('')!;
  // Symbolic terms first, in sorted order, then the constant, so the string is canonical.
  const keys = [...p.keys()].filter((k) => k !== '').sort();
  if (p.has('')) keys.push('');
  let s = '';
  keys.forEach((k, i) => {
    const c = p.get(k)!;
    const mag = Math.abs(c);
    const body = k === '' ? String(mag) : mag === 1 ? k : `${mag}*${k}`;
    if (i === 0) s = c < 0 ? `-${body}` : body;
    else s += c < 0 ? ` - ${body}` : ` + ${body}`;
  });
  return s;
}

export function dim(d: Dim): Dim {
  return format(parse(d));
}

export function dimAdd(a: Dim, b: Dim): Dim {
  const p = parse(a);
  for (const [k, c] of parse(b)) addTerm(p, k, c);
  return format(p);
}

export function dimSub(a: Dim, b: Dim): Dim {
  const p = parse(a);
  for (const [k, c] of parse(b)) addTerm(p, k, -c);
  return format(p);
}

export function dimMul(a: Dim, b: Dim): Dim {
  const out: Poly = new Map();
  for (const [ka, ca] of parse(a))
    for (const [kb, cb] of parse(b)) {
      const key = [...(ka ? ka.split('*') : []), ...(kb ? kb.split('*') : [])].sort().join('*');
      addTerm(out, key, ca * cb);
    }
  return format(out);
}

export function dimProduct(shape: Shape): Dim {
  return shape.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}

export function dimEqual(a: Dim, b: Dim): boolean {
  return dim(a) === dim(b);
}

export function shapeEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEqual(d, b[i]));
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

/** The base symbols a dim is built from (what must be looked up at run time to evaluate it). */
export function dimSymbols(d: Dim): string[] {
  const out = new Set<string>();
  for (const key of parse(d).keys()) for (const s of key ? key.split('*') : []) out.add(s);
  return [...out];
}

/** Terms of a dim: [coefficient, symbols[]] pairs, for evaluating it with graph ops. */
export function dimTerms(d: Dim): Array<[number, string[]]> {
  return [...parse(d)].map(([k, c]) => [c, k ? k.split('*') : []]);
}

/** Evaluates a dim given values for its symbols. */
export function evalDim(d: Dim, values: Record<string, number>): number {
  let total = 0;
  for (const [c, syms] of dimTerms(d)) {
    let t = c;
    for (const s of syms) {
      if (!(s in values)) throw new Error(`no value for symbolic dimension "${s}"`);
      t *= values[s];
    }
    total += t;
  }
  return total;
}

/**
 * Numpy broadcasting of two shapes. Two symbolic dims that are not provably equal are refused rather than
 * assumed equal, because the gradient's reduction axes would otherwise be undecidable at build time.
 */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (dimEqual(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else
      throw new Error(
        `shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (axis ${i}: ${da} vs ${db})`,
      );
  }
  return out;
}
