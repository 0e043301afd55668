/**
 * Activation recomputation (gradient checkpointing, as torch.utils.checkpoint): a model marks segments
 * of its forward pass — one per decoder layer — with `checkpoint`; `grad(…, { recompute: true })` then
 * builds each segment's backward on a re-emitted copy of the segment's forward nodes instead of on the
 * originals, so onnxruntime's planner frees the originals' activations as soon as the forward is past
 * them, and only each segment's inputs (the layer input) stay alive until the backward.
 *
 * Two things would silently undo this, and the copy is built so that neither can:
 * - onnxruntime's CommonSubexpressionElimination (graph optimization level basic and above) merges nodes
 *   with the same op, attributes and inputs — a plain copy would be merged back into the originals;
 * - a copy that may run as soon as its inputs exist could be scheduled during the forward pass and then
 *   held as long as the originals.
 * The copy therefore starts from `afterBarrier(input, gradients)`: the input passed through a `Where`
 * whose condition is computed from the upstream gradients of the segment's outputs. It equals the input
 * bit for bit, it is a value the forward never computes (so nothing downstream of it is a common
 * subexpression), and it cannot run before the backward has reached the segment — the ordering
 * PyTorch's checkpoint gets from its autograd engine. autodiff.ts adds the weight gradients of the
 * segment differentiated just before to what the barrier waits for: onnxruntime orders nodes depth-first
 * from the graph outputs, and would otherwise compute every weight gradient last (only the clipping norm
 * reads them), keeping each segment's recomputed activations alive until then.
 *
 * Selective recomputation (Megatron-LM's `recompute_granularity: selective`, PyTorch's selective activation
 * checkpointing that saves matmul outputs): values a model marks with `keep` inside a segment — a layer's
 * projections — stay alive from the forward as torch.utils.checkpoint's saved tensors would, and the copy
 * reads them (through the same barrier) instead of re-running the matmuls that made them. The copy then
 * re-runs only the cheap part of the layer: norms, rotary, attention's scores and the activations, which
 * hold most of a layer's bytes and few of its FLOPs.
 *
 * Half-precision inputs of the graph (a LoRA trainer's frozen base stored at 2 bytes per value) are read
 * through the same barrier: the float32 casts a layer makes of its weights are then re-made in its
 * backward, so only the layer at hand holds float32 copies; without this the forward's casts, functions
 * of no segment input, would be kept until the backward — every layer's at once.
 */
import { Graph, GraphError } from './graph.ts';
import type { Node, Value } from './graph.ts';
import { and, equal } from './ops/elementwise.ts';
import { sumAll } from './ops/reduce.ts';
import { where } from './ops/select.ts';

export interface RecomputeSegment {
  readonly name: string;
  /** The activations the copy is recomputed from (a layer's input); everything else it reads is kept. */
  readonly inputs: readonly Value[];
  /** The segment's nodes: graph.nodes[start, end). */
  readonly start: number;
  readonly end: number;
  /** Values computed in the segment that selective recomputation keeps from the forward (`keep`). */
  readonly kept: readonly Value[];
}

/** Full: every node of a segment is re-run. Selective: the values marked with `keep` are not. */
export type RecomputeGranularity = 'full' | 'selective';

const segments = new WeakMap<Graph, RecomputeSegment[]>();
const open = new WeakMap<Graph, Value[]>();

/**
 * Marks `v`, computed inside the segment being built, as kept from the forward under selective
 * recomputation; returns `v`. Outside a segment (a decode graph, an unmarked model) it marks nothing.
 */
export function keep(v: Value): Value {
  open.get(v.graph)?.push(v);
  return v;
}

/**
 * Runs `build` and marks the nodes it appends as one recomputation segment named `name`, recomputed
 * from `inputs`. Marking changes nothing in the graph: only a backward built with `recompute` uses it.
 */
export function checkpoint<T>(name: string, inputs: readonly Value[], build: () => T): T {
  if (inputs.length === 0) throw new GraphError(`checkpoint "${name}": needs at least one input`);
  const g = inputs[0].graph;
  if (g.parent) throw new GraphError(`checkpoint "${name}": segments belong to a model's main graph`);
  for (const v of inputs)
    if (v.graph !== g) throw new GraphError(`checkpoint "${name}": input ${v.name} belongs to another graph`);
  if (open.has(g)) throw new GraphError(`checkpoint "${name}": segments cannot nest`);
  const kept: Value[] = [];
  open.set(g, kept);
  const start = g.nodes.length;
  try {
    return build();
  } finally {
    open.delete(g);
    const list = segments.get(g) ?? [];
    list.push({ name, inputs: [...inputs], start, end: g.nodes.length, kept });
    segments.set(g, list);
  }
}

/** The segments marked on `g`, in forward order. */
export function segmentsOf(g: Graph): readonly RecomputeSegment[] {
  return segments.get(g) ?? [];
}

/**
 * `x`, unchanged, as a value that exists only once every `after` has been computed: Where(c, x, x) is x
 * whatever c is, and c (an Equal of a sum over each `after` with itself) reads all of them. A Reshape of x
 * to its own shape computed from c would alias x rather than copy it, but measured worse: the 0.5B
 * update's peak rose 1.6 GB with it (docs/model.md, "Selective recomputation").
 */
export function afterBarrier(x: Value, after: readonly Value[]): Value {
  if (after.length === 0)
    throw new GraphError(`afterBarrier: ${x.name} needs at least one value to wait for`);
  return where(readyAfter(after), x, x);
}

/** A bool that exists once every `after` has been computed (always true: each sum equals itself). */
function readyAfter(after: readonly Value[]): Value {
  return after
    .map((a) => {
      const s = sumAll(a);
      return equal(s, s);
    })
    .reduce((c, d) => and(c, d));
}

/** A graph input stored at half precision (frozen weights): re-read through the barrier in a copy. */
function isHalfInput(v: Value): boolean {
  return v.producer === undefined && v.dtype === 'float16';
}

/**
 * Re-emits the nodes of `segment` that depend on its inputs or read a half-precision graph input, reading
 * those through `afterBarrier` on `after` (the upstream gradients of the segment's outputs). Returns the
 * copy of each recomputed value by original; values downstream of neither (functions of float32
 * parameters, shapes) are absent and their originals are used as they are. With `selective`, the
 * segment's kept values are read through the barrier too and the nodes that made them are not re-emitted
 * (what only they read is then dead and dropped when the graph is serialized).
 */
export function recomputeSegment(
  g: Graph,
  segment: RecomputeSegment,
  after: readonly Value[],
  granularity: RecomputeGranularity = 'full',
): Map<Value, Value> {
  const copies = new Map<Value, Value>();
  g.scope(`${segment.name}.recompute`, () => {
    if (after.length === 0)
      throw new GraphError(`recompute "${segment.name}": needs at least one value to wait for`);
    const ready = g.scope('barrier', () => readyAfter(after));
    const barred = (x: Value) => g.scope('barrier', () => where(ready, x, x));
    for (const x of segment.inputs) copies.set(x, barred(x));
    const kept = new Set(granularity === 'selective' ? segment.kept : []);
    for (const v of kept) copies.set(v, barred(v));
    for (const node of g.nodes.slice(segment.start, segment.end)) {
      if (node.outputs.length > 0 && node.outputs.every((o) => kept.has(o))) continue;
      const reads = [...node.inputs, ...(node.implicitInputs ?? [])];
      for (const v of reads) if (isHalfInput(v) && !copies.has(v)) copies.set(v, barred(v));
      if (!reads.some((v) => copies.has(v))) continue;
      if (Object.values(node.attrs).some((a) => a.kind === 'graph'))
        throw new GraphError(
          `recompute "${segment.name}": node "${node.name}" (${node.op}) has a subgraph and cannot be re-emitted`,
        );
      const outs = g.node(
        node.op,
        node.inputs.map((v) => copies.get(v) ?? v),
        node.attrs,
      );
      node.outputs.forEach((o, i) => copies.set(o, outs[i]));
    }
  });
  return copies;
}

/** The node as its copy: inputs and outputs replaced where the segment recomputed them. */
export function copyView(node: Node, copies: ReadonlyMap<Value, Value>): Node {
  const swap = (v: Value) => copies.get(v) ?? v;
  return {
    ...node,
    inputs: node.inputs.map(swap),
    outputs: node.outputs.map(swap),
    implicitInputs: node.implicitInputs?.map(swap),
  };
}
