/**
 * ONNX Loop: a body subgraph run a given number of times inside one session run, with loop-carried values
 * fed from each iteration to the next and per-iteration ("scan") outputs stacked along a new first axis.
 * It lets a decode graph draw many tokens per run, so the KV cache and the per-run overhead cross the
 * host boundary once per chunk instead of once per token. A Loop has no generic gradient: its builder may
 * give one (`LoopSpec.grad`), as chunkedTokenLogProbs does with a second Loop that recomputes each chunk.
 */
import { Graph, GraphError, Value } from '../graph.ts';
import type { Node, TypeInfo } from '../graph.ts';
import type { Dim, Shape } from '../dim.ts';
import { dim, formatShape } from '../dim.ts';
import { defineOp, NOT_DIFFERENTIABLE } from './registry.ts';
import type { InputGrad } from './registry.ts';
import { dimValue } from './util.ts';
import { squeeze } from './shape.ts';

defineOp({
  op: 'Loop',
  infer: (inputs, attrs) => {
    const [trips, cond, ...initial] = inputs;
    if (trips.dtype !== 'int64' || trips.rank !== 0) throw new Error('trip count must be an int64 scalar');
    if (cond.dtype !== 'bool' || cond.rank !== 0) throw new Error('condition must be a bool scalar');
    const b = attrs.body;
    if (!b || b.kind !== 'graph') throw new Error('Loop needs a body graph');
    const body = b.value;
    if (body.inputs.length !== 2 + initial.length)
      throw new Error(`body has ${body.inputs.length} inputs, expected 2 + ${initial.length} carried`);
    const shapes = JSON.parse((attrs._outputShapes as { value: string }).value) as Dim[][];
    const outs = body.outputs.slice(1);
    if (shapes.length !== outs.length)
      throw new Error(`${shapes.length} output shapes for ${outs.length} body outputs`);
    const types: TypeInfo[] = outs.map((o, i) => ({ dtype: o.dtype, shape: shapes[i] }));
    initial.forEach((v, i) => {
      const carried = body.inputs[2 + i];
      if (v.dtype !== carried.dtype || outs[i].dtype !== carried.dtype)
        throw new Error(
          `carried value ${i}: ${v.dtype} in, body takes ${carried.dtype}, returns ${outs[i].dtype}`,
        );
      if (v.rank !== carried.rank || outs[i].rank !== carried.rank)
        throw new Error(`carried value ${i}: rank ${v.rank} in, body takes ${formatShape(carried.shape)}`);
    });
    return types;
  },
  // The builder's rule, keyed by the node; it answers for values read from the enclosing graph too.
  grad: ({ node, gOut, wanted }): InputGrad[] => {
    const rule = loopGradients.get(node);
    if (!rule) throw new Error('a Loop is differentiable only when its builder gives a gradient rule');
    const sources = [...node.inputs, ...(node.implicitInputs ?? [])];
    const byValue = rule(gOut, (v) => sources.some((s, i) => s === v && wanted?.[i] !== false));
    return sources.map((v, i) => (wanted?.[i] && !byValue.has(v) ? NOT_DIFFERENTIABLE : byValue.get(v)));
  },
});

/**
 * A Loop's gradient: given the gradients of its outputs (carried finals, then scans; undefined where an
 * output does not reach the loss) and which values the caller needs, the gradient of each input or
 * captured outer value it can differentiate, built in the enclosing graph.
 */
export type LoopGradRule = (
  gOut: ReadonlyArray<Value | undefined>,
  needs: (v: Value) => boolean,
) => Map<Value, Value>;

const loopGradients = new WeakMap<Node, LoopGradRule>();

export interface LoopBody {
  /** The body graph, to build in: values of the enclosing graph may be used directly (they are captured). */
  graph: Graph;
  /** int64 scalar: 0, 1, … */
  iteration: Value;
  /** This iteration's carried values, as declared in `carried`. */
  carried: Value[];
}

export interface LoopSpec {
  /** How many iterations: a symbolic or static dim of the enclosing graph, or an int64 scalar value of it. */
  trips: Dim | Value;
  /**
   * Loop-carried values: the initial value, its shape inside the body (may use symbols of its own, e.g.
   * a length that grows by one per iteration) and the shape of the final value in the enclosing graph.
   */
  carried: Array<{ initial: Value; bodyShape: Shape; finalShape: Shape }>;
  /** Builds one iteration: the next carried values (same order) and the per-iteration outputs. */
  body: (b: LoopBody) => { carried: Value[]; scans: Value[] };
  /** The Loop's gradient rule; without one, differentiating through the Loop is a build error. */
  grad?: LoopGradRule;
}

/** The final carried values and the stacked scan outputs ([trips, …per-iteration shape]). */
export function loop(outer: Graph, spec: LoopSpec, base = 'loop'): { carried: Value[]; scans: Value[] } {
  const name = outer.freshName(base);
  const body = new Graph(`${name}_body`, outer);
  const iteration = body.input(`${name}.iteration`, 'int64', []);
  const cond = body.input(`${name}.cond`, 'bool', []);
  const carriedIn = spec.carried.map((c, i) =>
    body.input(`${name}.carried.${i}`, c.initial.dtype, c.bodyShape),
  );
  const built = body.scope(name, () => spec.body({ graph: body, iteration, carried: carriedIn }));
  if (built.carried.length !== spec.carried.length)
    throw new GraphError(
      `loop "${name}": body returned ${built.carried.length} carried values, expected ${spec.carried.length}`,
    );
  body.output(cond);
  for (const v of built.carried) body.output(v);
  for (const v of built.scans) body.output(v);
  const trips = spec.trips;
  if (trips instanceof Value && built.scans.length > 0)
    throw new GraphError(`loop "${name}": scan outputs need the trip count as a dim, not a value`);
  const tripsValue = trips instanceof Value ? trips : squeeze(dimValue(outer, trips), [0]);
  const outputShapes = [
    ...spec.carried.map((c) => c.finalShape.map(dim)),
    ...built.scans.map((s) => [dim(trips as Dim), ...s.shape]),
  ];
  const outs = outer.node(
    'Loop',
    [tripsValue, outer.scalar(1, 'bool'), ...spec.carried.map((c) => c.initial)],
    {
      body: { kind: 'graph', value: body },
      _outputShapes: { kind: 'string', value: JSON.stringify(outputShapes) },
    },
    { implicitInputs: body.capturedFromParent() },
  );
  if (spec.grad) loopGradients.set(outs[0].producer!, spec.grad);
  return { carried: outs.slice(0, spec.carried.length), scans: outs.slice(spec.carried.length) };
}
