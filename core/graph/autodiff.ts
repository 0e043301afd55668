/**
 * Reverse-mode automatic differentiation: `grad(loss, wrt)` appends the backward pass, built from the
 * same op table as the forward pass, to the loss's graph and returns one gradient value per `wrt`.
 * With `recompute`, the segments the model marked (recompute.ts) are differentiated on a re-emitted copy
 * of their forward nodes, so their activations need not live until the backward.
 */
import { isFloat } from './dtype.ts';
import { GraphError } from './graph.ts';
import type { Node, Value } from './graph.ts';
import { formatShape } from './dim.ts';
import { NOT_DIFFERENTIABLE, opDef } from './ops/registry.ts';
import { add } from './ops/elementwise.ts';
import { zerosLike } from './ops/shape.ts';
import { copyView, recomputeSegment, segmentsOf } from './recompute.ts';
import type { RecomputeGranularity, RecomputeSegment } from './recompute.ts';

export interface GradOptions {
  /** Gradient of the loss (default 1; required when the loss is not a scalar). */
  seed?: Value;
  /**
   * Recompute the marked segments in the backward instead of keeping their activations: all of each
   * segment (`true` or 'full'), or all but the values the model kept (`'selective'`, recompute.ts).
   */
  recompute?: boolean | RecomputeGranularity;
}

export function grad(loss: Value, wrt: readonly Value[], opts: GradOptions = {}): Value[] {
  const g = loss.graph;
  if (!isFloat(loss.dtype))
    throw new GraphError(`grad: loss ${loss.name} must be floating point (got ${loss.dtype})`);
  if (!opts.seed && loss.shape.some((d) => d !== 1))
    throw new GraphError(`grad: loss ${loss.name} must be a scalar (shape ${formatShape(loss.shape)})`);
  for (const w of wrt) {
    if (w.graph !== g) throw new GraphError(`grad: ${w.name} belongs to another graph`);
    if (!isFloat(w.dtype))
      throw new GraphError(
        `grad: cannot differentiate with respect to ${w.name}: it is ${w.dtype}, not floating point`,
      );
  }

  // Values that depend on some `wrt` through floating-point values: only these carry gradients.
  const dependent = new Set<Value>(wrt);
  for (const node of g.nodes)
    if (sourcesOf(node).some((v) => dependent.has(v)))
      for (const o of node.outputs) if (isFloat(o.dtype)) dependent.add(o);

  const grads = new Map<Value, Value>();
  grads.set(loss, opts.seed ?? g.scalar(1, loss.dtype));
  const lossIndex = loss.producer ? g.nodes.indexOf(loss.producer) : -1;
  const nodes = g.nodes.slice(0, lossIndex + 1);
  const ending = new Map<number, RecomputeSegment>();
  if (opts.recompute) for (const s of segmentsOf(g)) if (s.end > s.start) ending.set(s.end - 1, s);
  // The parameter gradients of the segment recomputed last. The next segment's copy waits for them too:
  // onnxruntime orders nodes depth-first from the outputs, which otherwise leaves every weight gradient
  // (read only by the clipping norm) to the end, holding each segment's recomputed activations with it.
  let finished: Value[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const segment = ending.get(i);
    if (!segment) {
      backprop(nodes[i], nodes[i], dependent, grads);
      continue;
    }
    // Every consumer of the segment's values outside it comes later, so their gradients are complete.
    const upstream = nodes
      .slice(segment.start, segment.end)
      .flatMap((n) => n.outputs.map((o) => grads.get(o)))
      .filter((v): v is Value => v !== undefined);
    if (upstream.length > 0) {
      const granularity = opts.recompute === 'selective' ? 'selective' : 'full';
      const copies = recomputeSegment(g, segment, [...upstream, ...finished], granularity);
      for (let j = segment.end - 1; j >= segment.start; j--)
        backprop(nodes[j], copyView(nodes[j], copies), dependent, grads);
      finished = parameterGrads(nodes.slice(segment.start, segment.end), dependent, grads);
    }
    i = segment.start;
  }

  return wrt.map((w) => grads.get(w) ?? zerosLike(w));
}

/** A node's inputs, then the outer values its subgraph reads (a Loop's captures): both carry gradients. */
function sourcesOf(node: Node): readonly Value[] {
  return node.implicitInputs?.length ? [...node.inputs, ...node.implicitInputs] : node.inputs;
}

/** The gradients accumulated so far for the graph inputs (parameters) that `nodes` read. */
function parameterGrads(nodes: readonly Node[], dependent: Set<Value>, grads: Map<Value, Value>): Value[] {
  const read = new Set(nodes.flatMap((n) => n.inputs.filter((v) => !v.producer && dependent.has(v))));
  return [...read].map((v) => grads.get(v)).filter((v): v is Value => v !== undefined);
}

/**
 * Adds the gradients of `node`'s inputs to `grads` (keyed by the original values); the gradient rule reads
 * `view`, which is the node itself or its recomputed copy.
 */
function backprop(node: Node, view: Node, dependent: Set<Value>, grads: Map<Value, Value>): void {
  const gOut = node.outputs.map((o) => grads.get(o));
  if (gOut.every((x) => x === undefined)) return;
  const sources = sourcesOf(node);
  const wanted = sources.map((v) => dependent.has(v));
  if (!wanted.some(Boolean)) return;
  const def = opDef(node.op)!;
  if (!def.grad)
    throw new GraphError(
      `grad: node "${node.name}" (${node.op}) lies on the gradient path but ${node.op} has no gradient rule`,
    );
  let inGrads;
  try {
    inGrads = def.grad({
      node: view,
      inputs: view.inputs,
      outputs: view.outputs,
      attrs: node.attrs,
      gOut,
      wanted,
    });
  } catch (e) {
    if (e instanceof GraphError) throw e;
    throw new GraphError(
      `grad: gradient rule of node "${node.name}" (${node.op}) failed: ${(e as Error).message}`,
    );
  }
  sources.forEach((v, i) => {
    if (!wanted[i]) return;
    const gi = inGrads[i];
    if (gi === NOT_DIFFERENTIABLE)
      throw new GraphError(
        `grad: input ${i} (${v.name}) of node "${node.name}" (${node.op}) is not differentiable`,
      );
    if (!gi) return;
    const prev = grads.get(v);
    grads.set(v, prev ? add(prev, gi) : gi);
  });
}
