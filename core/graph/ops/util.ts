/** Helpers shared by op builders and gradient rules: operands, attributes, runtime shapes, reductions. */
import type { DType } from '../dtype.ts';
import type { AttrValue, Graph, TypeInfo, Value } from '../graph.ts';
import type { Dim, Shape } from '../dim.ts';
import { dimTerms, formatShape, isStatic } from '../dim.ts';

export type Operand = Value | number;

export const attr = {
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  ints: (value: number[]): AttrValue => ({ kind: 'ints', value }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
};

/** Reads a build-time attribute; names starting with '_' are metadata the serializer leaves out. */
export function intsAttr(attrs: Record<string, AttrValue>, name: string): number[] {
  const a = attrs[name];
  if (!a || a.kind !== 'ints') throw new Error(`missing attribute ${name}`);
  return a.value;
}

export function intAttr(attrs: Record<string, AttrValue>, name: string, fallback?: number): number {
  const a = attrs[name];
  if (!a) {
    if (fallback === undefined) throw new Error(`missing attribute ${name}`);
    return fallback;
  }
  if (a.kind !== 'int') throw new Error(`attribute ${name} must be an int`);
  return a.value;
}

/** Internal attribute holding a symbolic shape (serialized as nothing; the runtime shape is an input). */
export function shapeAttr(shape: Shape): AttrValue {
  return { kind: 'string', value: JSON.stringify(shape) };
}

export function readShapeAttr(attrs: Record<string, AttrValue>, name: string): Dim[] {
  const a = attrs[name];
  if (!a || a.kind !== 'string') throw new Error(`missing attribute ${name}`);
  return JSON.parse(a.value) as Dim[];
}

/**
 * The graph a node over these operands belongs to: the innermost one (inside a Loop body, operands may mix
 * body values and values of the enclosing graph, which the body captures).
 */
export function graphOf(...operands: Operand[]): Graph {
  let g: Graph | undefined;
  for (const o of operands) if (typeof o !== 'number' && (!g || o.graph.depth > g.depth)) g = o.graph;
  if (!g) throw new Error('at least one operand must be a graph value');
  return g;
}

/** Turns numbers into scalar constants of the dtype of the other operand. */
export function toValues(operands: Operand[]): Value[] {
  const g = graphOf(...operands);
  const ref = operands.find((o): o is Value => typeof o !== 'number')!;
  return operands.map((o) => (typeof o === 'number' ? g.scalar(o, ref.dtype) : o));
}

export function apply(op: string, inputs: Value[], attrs: Record<string, AttrValue> = {}): Value {
  return graphOf(...inputs).node(op, inputs, attrs)[0];
}

export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

export function sameType(v: Value): TypeInfo {
  return { dtype: v.dtype, shape: v.shape };
}

export function requireDtype(v: Value, allowed: readonly DType[], what: string): void {
  if (!allowed.includes(v.dtype)) throw new Error(`${what} must be ${allowed.join(' or ')} (got ${v.dtype})`);
}

/** An int64 [1] tensor holding the run-time value of a (possibly symbolic) dim. */
export function dimValue(g: Graph, d: Dim): Value {
  if (typeof d === 'number') return g.ints([d]);
  g.assertEvaluable(d, `dimension "${d}"`);
  const memo = memoOf(g);
  const hit = memo.get(`dim:${d}`);
  if (hit) return hit;
  let total: Value | undefined;
  for (const [coef, syms] of dimTerms(d)) {
    let term: Value | undefined = coef === 1 && syms.length > 0 ? undefined : g.ints([coef]);
    for (const s of syms) {
      const sv = symbolValue(g, s);
      term = term ? apply('Mul', [term, sv]) : sv;
    }
    total = total ? apply('Add', [total, term!]) : term!;
  }
  memo.set(`dim:${d}`, total!);
  return total!;
}

function symbolValue(g: Graph, s: string): Value {
  const memo = memoOf(g);
  const hit = memo.get(`sym:${s}`);
  if (hit) return hit;
  const src = g.dimSources.get(s)!;
  const v = g.node('Shape', [src.value], { start: attr.int(src.axis), end: attr.int(src.axis + 1) })[0];
  memo.set(`sym:${s}`, v);
  return v;
}

const memos = new WeakMap<Graph, Map<string, Value>>();
function memoOf(g: Graph): Map<string, Value> {
  let m = memos.get(g);
  if (!m) memos.set(g, (m = new Map()));
  return m;
}

/** An int64 [rank] tensor holding a shape at run time: a constant when static, else assembled from inputs. */
export function shapeTensor(g: Graph, shape: Shape): Value {
  if (isStatic(shape)) return g.ints(shape);
  const key = `shape:${formatShape(shape)}`;
  const memo = memoOf(g);
  const hit = memo.get(key);
  if (hit) return hit;
  const parts = shape.map((d) => dimValue(g, d));
  const v = g.node('Concat', parts, { axis: attr.int(0) })[0];
  memo.set(key, v);
  return v;
}
