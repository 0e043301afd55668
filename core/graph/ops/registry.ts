/**
 * The op table: for every supported ONNX op, its shape rule and its reverse-mode gradient rule, side by
 * side (one entry per op, defined next to the op's builder function in this folder).
 */
import type { Attrs, Node, TypeInfo, Value } from '../graph.ts';

/** Returned for an input through which no gradient can flow; asking for one there is a build error. */
export const NOT_DIFFERENTIABLE = Symbol('not differentiable');

export interface GradContext {
  readonly node: Node;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
  /** Gradient of the loss with respect to each output; undefined where the output does not reach the loss. */
  readonly gOut: ReadonlyArray<Value | undefined>;
  /**
   * Which inputs need a gradient, then which implicit inputs (values a subgraph reads from the enclosing
   * graph); a rule may return gradients for implicit inputs after those of the inputs.
   */
  readonly wanted?: readonly boolean[];
}

export type InputGrad = Value | undefined | typeof NOT_DIFFERENTIABLE;

export interface OpDef {
  readonly op: string;
  infer(inputs: readonly Value[], attrs: Attrs): TypeInfo[];
  /** Gradients with respect to each input (undefined = zero). Absent = the op is not differentiable. */
  grad?(ctx: GradContext): InputGrad[];
}

const table = new Map<string, OpDef>();

export function defineOp(def: OpDef): OpDef {
  if (table.has(def.op)) throw new Error(`op ${def.op} defined twice`);
  table.set(def.op, def);
  return def;
}

export function opDef(op: string): OpDef | undefined {
  return table.get(op);
}

export function definedOps(): string[] {
  return [...table.keys()].sort();
}
