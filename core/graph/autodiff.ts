/**
 * Reverse-mode automatic differentiation: `grad(loss, wrt)` appends the backward pass, built from the
 * same op table as the forward pass, to the loss's graph and returns one gradient value per `wrt`.
 */
import { isFloat } from './dtype.ts';
import { GraphError } from './graph.ts';
import type { Node, Value } from './graph.ts';
import { formatShape } from './dim.ts';
import { NOT_DIFFERENTIABLE, opDef } from './ops/registry.ts';
import { add } from './ops/elementwise.ts';
import { zerosLike } from './ops/shape.ts';

export function grad(loss: Value, wrt: readonly Value[], opts: { seed?: Value } = {}): Value[] {
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
  for (let i = nodes.length - 1; i >= 0; i--) backprop(nodes[i], dependent, grads);

  return wrt.map((w) => grads.get(w) ?? zerosLike(w));
}

/** A node's inputs, then the outer values its subgraph reads (a Loop's captures): both carry gradients. */
function sourcesOf(node: Node): readonly Value[] {
  return node.implicitInputs?.length ? [...node.inputs, ...node.implicitInputs] : node.inputs;
}

function backprop(node: Node, dependent: Set<Value>, grads: Map<Value, Value>): void {
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
    inGrads = def.grad({ node, inputs: node.inputs, outputs: node.outputs, attrs: node.attrs, gOut, wanted });
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
