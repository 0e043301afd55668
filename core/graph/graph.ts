/**
 * The graph under construction: named inputs, constant initializers, nodes of standard ONNX ops in
 * creation (= topological) order, and outputs. Every node's output types are inferred by its op's shape
 * rule when it is added, so a malformed graph fails here, naming the node, not inside onnxruntime.
 */
import type { DType, HostArray } from './dtype.ts';
import { dtypeBytes, dtypeOfArray, fromNumbers } from './dtype.ts';
import type { Dim, Shape } from './dim.ts';
import { dim, dimSymbols, formatShape, isSymbol } from './dim.ts';
import { opDef } from './ops/registry.ts';
import './ops/all.ts';

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; dtype: DType; value: number }
  /** A subgraph (a Loop's body), serialized as a GraphProto attribute. */
  | { kind: 'graph'; value: Graph };

export type Attrs = Record<string, AttrValue>;

export class GraphError extends Error {
  override name = 'GraphError';
}

export class Value {
  #name: string;

  constructor(
    readonly graph: Graph,
    name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    /** The node that computes this value; undefined for inputs and constants. */
    readonly producer: Node | undefined,
  ) {
    this.#name = name;
  }

  get name(): string {
    return this.#name;
  }

  /** Only Graph.output renames a value (to its output name), before the graph is serialized. */
  rename(name: string): void {
    this.#name = name;
  }

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name}: ${this.dtype}${formatShape(this.shape)}`;
  }
}

export interface Node {
  readonly id: number;
  readonly name: string;
  readonly op: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
  /**
   * Values of this graph that a subgraph attribute reads from the enclosing scope (ONNX outer-scope
   * references): not listed as node inputs in ONNX, but they keep their producers alive.
   */
  readonly implicitInputs?: readonly Value[];
}

/** A subgraph's reference to a value of an enclosing graph: same name (read at run time from the outer scope). */
class CapturedValue extends Value {
  constructor(
    graph: Graph,
    readonly source: Value,
  ) {
    super(graph, source.name, source.dtype, source.shape, undefined);
  }

  // The source may be renamed later (Graph.output); ONNX resolves the reference by name.
  override get name(): string {
    return this.source.name;
  }
}

/**
 * Where a constant's bytes lie in a file, stored as the value's dtype in little-endian order (as in a
 * safetensors file): the model refers to them as ONNX external data and onnxruntime maps the file, so
 * weights that are already on disk never pass through JavaScript memory.
 */
export interface FileRegion {
  /** Absolute path. */
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

export interface Constant {
  readonly value: Value;
  /** The values, or (for weights on disk) where they lie in a file. */
  readonly data: HostArray | FileRegion;
}

export function isFileRegion(data: HostArray | FileRegion): data is FileRegion {
  return (data as FileRegion).path !== undefined;
}

export interface TypeInfo {
  dtype: DType;
  shape: Shape;
}

export class Graph {
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly nodes: Node[] = [];
  readonly constants: Constant[] = [];
  /** Where each base symbol can be read at run time: the first graph input that has it, and the axis. */
  readonly dimSources = new Map<string, { value: Value; axis: number }>();
  /** Value names, shared with every enclosing and nested graph: ONNX forbids shadowing across scopes. */
  private readonly names: Set<string>;
  /** Outer values this subgraph reads, by source. */
  private readonly captures = new Map<Value, Value>();
  private readonly scalarCache = new Map<string, Value>();
  private readonly scopes: string[] = [];
  private counter = 0;

  constructor(
    readonly name = 'reasonloop',
    /** The enclosing graph, for a subgraph (a Loop's body): its values may be used here directly. */
    readonly parent?: Graph,
  ) {
    this.names = parent ? parent.names : new Set();
  }

  /** How many graphs enclose this one (0 for a model's main graph). */
  get depth(): number {
    return this.parent ? this.parent.depth + 1 : 0;
  }

  /** Whether `g` is this graph or encloses it. */
  encloses(g: Graph): boolean {
    return g === this || (!!g.parent && this.encloses(g.parent));
  }

  /**
   * This subgraph's handle on a value of an enclosing graph. Its symbolic dims become readable here (via
   * the captured value's shape) unless a subgraph input already defines them.
   */
  capture(v: Value): Value {
    if (v.graph === this) return v;
    if (!this.parent || !v.graph.encloses(this))
      throw new GraphError(`${v.name} belongs to a graph that does not enclose "${this.name}"`);
    let c = this.captures.get(v);
    if (!c) {
      const outer = v.graph === this.parent ? v : this.parent.capture(v);
      c = new CapturedValue(this, outer);
      this.captures.set(v, c);
      c.shape.forEach((d, axis) => {
        if (typeof d === 'string' && isSymbol(d) && !this.dimSources.has(d))
          this.dimSources.set(d, { value: c!, axis });
      });
    }
    return c;
  }

  /** The values of the parent graph this subgraph (or one nested in it) reads. */
  capturedFromParent(): Value[] {
    return [...this.captures.values()].map((c) => (c as CapturedValue).source);
  }

  /** Declares a graph input; symbolic dims named here become readable at run time. */
  input(name: string, dtype: DType, shape: Shape): Value {
    const normalized = shape.map((d, axis) => {
      // A composite dim ("past + new") is allowed once each of its symbols is defined by an earlier input.
      if (typeof d === 'string' && !isSymbol(d)) {
        const missing = dimSymbols(d).filter((s) => !this.dimSources.has(s));
        if (missing.length > 0)
          throw new GraphError(
            `input "${name}": dimension ${axis} ("${d}") uses ${missing.join(', ')}, which no earlier input defines`,
          );
        return dim(d);
      }
      if (typeof d === 'number' && (!Number.isInteger(d) || d < 0))
        throw new GraphError(`input "${name}": dimension ${axis} must be a non-negative integer (got ${d})`);
      return d;
    });
    const v = new Value(this, this.claim(name), dtype, normalized, undefined);
    normalized.forEach((d, axis) => {
      if (typeof d === 'string' && isSymbol(d) && !this.dimSources.has(d))
        this.dimSources.set(d, { value: v, axis });
    });
    this.inputs.push(v);
    return v;
  }

  /** A constant tensor stored in the model (for small values: weights are inputs, not constants). */
  constant(data: HostArray | number[], shape: readonly number[], dtype?: DType, name?: string): Value {
    const arr = Array.isArray(data) ? fromNumbers(dtype ?? 'float32', data) : data;
    const dt = dtype ?? dtypeOfArray(arr);
    const size = shape.reduce((a, b) => a * b, 1);
    if (arr.length !== size)
      throw new GraphError(`constant ${name ?? ''}: ${arr.length} values for shape ${formatShape(shape)}`);
    const v = new Value(this, this.claim(name ?? this.autoName('const')), dt, shape, undefined);
    this.constants.push({ value: v, data: arr });
    return v;
  }

  /** A constant whose bytes stay in a file (see FileRegion); the region must hold exactly the shape. */
  fileConstant(region: FileRegion, shape: readonly number[], dtype: DType, name: string): Value {
    const size = shape.reduce((a, b) => a * b, 1);
    if (region.length !== size * dtypeBytes(dtype))
      throw new GraphError(
        `constant ${name}: ${region.length} bytes in ${region.path} for ${dtype}${formatShape(shape)}`,
      );
    const v = new Value(this, this.claim(name), dtype, shape, undefined);
    this.constants.push({ value: v, data: region });
    return v;
  }

  /** A rank-0 constant, shared by every use of the same (dtype, value). */
  scalar(value: number, dtype: DType): Value {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
    let v = this.scalarCache.get(key);
    if (!v) {
      v = this.constant(fromNumbers(dtype, [value]), [], dtype);
      this.scalarCache.set(key, v);
    }
    return v;
  }

  /** An int64 vector constant (axes, shapes, slice bounds). */
  ints(values: ReadonlyArray<number | bigint>): Value {
    return this.constant(fromNumbers('int64', values), [values.length], 'int64');
  }

  output(value: Value, name?: string): Value {
    if (value.graph !== this && !value.graph.encloses(this))
      throw new GraphError(`output ${value.name} belongs to another graph`);
    value = this.capture(value);
    let out = value;
    // An input or an already-listed value is passed through an Identity (a copy at run time); a computed
    // value just takes the output's name, so large outputs (a KV cache) are not copied twice.
    if (!value.producer || this.outputs.includes(value)) {
      out = this.node('Identity', [value], {}, name !== undefined ? { outputNames: [name] } : {})[0];
    } else if (name !== undefined && name !== value.name) {
      this.names.delete(value.name);
      value.rename(this.claim(name));
    }
    this.outputs.push(out);
    return out;
  }

  /** Runs `build` with node names prefixed by `scope/` (names errors and profiles by model part). */
  scope<T>(scope: string, build: () => T): T {
    this.scopes.push(scope);
    try {
      return build();
    } finally {
      this.scopes.pop();
    }
  }

  /** Appends one node; its op's shape rule types the outputs or throws an error naming the node. */
  node(
    op: string,
    inputs: readonly Value[],
    attrs: Attrs = {},
    opts: { outputNames?: string[]; implicitInputs?: readonly Value[] } = {},
  ): Value[] {
    const id = this.counter++;
    let name = this.uniqueName([...this.scopes, `${op}_${id}`].join('/'));
    const def = opDef(op);
    if (!def) throw new GraphError(`node "${name}": unknown op "${op}"`);
    for (const [i, v] of inputs.entries()) {
      if (!(v instanceof Value))
        throw new GraphError(`node "${name}" (${op}): input ${i} is not a graph value`);
      if (v.graph !== this && !v.graph.encloses(this))
        throw new GraphError(`node "${name}" (${op}): input ${v.name} belongs to another graph`);
    }
    // A value of an enclosing graph is read through this subgraph's capture of it.
    inputs = inputs.map((v) => this.capture(v));
    let types: TypeInfo[];
    try {
      types = def.infer(inputs, attrs);
    } catch (e) {
      const detail = inputs.map((v) => `${v.dtype}${formatShape(v.shape)}`).join(', ');
      throw new GraphError(`node "${name}" (${op}): ${(e as Error).message} [inputs: ${detail}]`);
    }
    // A subgraph's counter is its own: `Op_7:0` may already name a value it captured from outside.
    const base = name;
    for (let i = 1; types.some((_, j) => !opts.outputNames?.[j] && this.names.has(`${name}:${j}`)); i++)
      name = `${base}_${i}`;
    const outputs: Value[] = [];
    const node: Node = { id, name, op, inputs, outputs, attrs, implicitInputs: opts.implicitInputs };
    types.forEach((t, i) => {
      const outName = opts.outputNames?.[i] ?? `${name}:${i}`;
      outputs.push(new Value(this, this.claim(outName), t.dtype, t.shape.map(dim), node));
    });
    this.nodes.push(node);
    return outputs;
  }

  /** Checks a symbolic dim can be evaluated at run time (all its symbols come from inputs). */
  assertEvaluable(d: Dim, what: string): void {
    for (const s of dimSymbols(d))
      if (!this.dimSources.has(s))
        throw new GraphError(`${what}: symbol "${s}" is not a dimension of any graph input`);
  }

  private autoName(prefix: string): string {
    return this.uniqueName(`${prefix}_${this.counter++}`);
  }

  /** Reserves `base`, or `base_1`, `base_2`, … if taken: a prefix for a family of names (a Loop's values). */
  freshName(base: string): string {
    return this.claim(this.uniqueName(base));
  }

  private uniqueName(base: string): string {
    let n = base;
    for (let i = 1; this.names.has(n); i++) n = `${base}_${i}`;
    return n;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new GraphError(`duplicate value name "${name}"`);
    this.names.add(name);
    return name;
  }
}
