/**
 * The graphs a trainer runs: the fused train step (loss → gradients → clip → AdamW), the gradients-only
 * step for micro-batches, and the apply step that feeds accumulated gradients to AdamW. Parameters and
 * optimizer state are inputs and their updated values outputs, named by the conventions below.
 */
import type { DType } from './dtype.ts';
import { Graph, GraphError } from './graph.ts';
import type { Value } from './graph.ts';
import type { Shape } from './dim.ts';
import { grad } from './autodiff.ts';
import type { RecomputeGranularity } from './recompute.ts';
import { ADAMW_DEFAULTS, adamwUpdate, clipGradNorm } from './adamw.ts';
import type { AdamWConfig } from './adamw.ts';
import { add, mul } from './ops/elementwise.ts';

export const names = {
  loss: 'loss',
  gradNorm: 'grad_norm',
  step: 'optim.step',
  lr: 'optim.lr',
  gradScale: 'optim.grad_scale',
  m: (p: string) => `optim.m.${p}`,
  v: (p: string) => `optim.v.${p}`,
  grad: (p: string) => `grad.${p}`,
  /** The running gradient sum an accumulating gradient step adds its gradient to. */
  gradAcc: (p: string) => `grad_acc.${p}`,
  next: (n: string) => `${n}.next`,
};

export interface OptimizerSpec {
  adamw?: Partial<AdamWConfig>;
  /** Global-norm clipping threshold; null disables clipping (the norm is still reported). */
  maxGradNorm?: number | null;
  /** Parameters exempt from weight decay. */
  noDecay?: (paramName: string) => boolean;
}

export interface TrainGraphSpec extends OptimizerSpec {
  graph: Graph;
  /** Scalar loss. */
  loss: Value;
  /** Trainable parameters: graph inputs of a floating-point dtype. */
  params: Value[];
  /** Extra scalar outputs (metrics) computed by the forward pass. */
  metrics?: Record<string, Value>;
  /** Recompute the graph's checkpointed segments in the backward (gradient checkpointing): all or selective. */
  recompute?: boolean | RecomputeGranularity;
}

function checkParams(graph: Graph, params: Value[]): void {
  for (const p of params)
    if (!graph.inputs.includes(p)) throw new GraphError(`parameter ${p.name} must be a graph input`);
}

function outputMetrics(graph: Graph, metrics: Record<string, Value> = {}): void {
  for (const [name, v] of Object.entries(metrics)) graph.output(v, name);
}

/** Appends clipping + AdamW for (param, grad) pairs; returns nothing: outputs are named by `names`. */
function appendOptimizer(graph: Graph, params: Value[], grads: Value[], spec: OptimizerSpec): void {
  const dtype = params[0]?.dtype ?? 'float32';
  const cfg = { ...ADAMW_DEFAULTS, ...spec.adamw };
  const scalars = { step: graph.input(names.step, dtype, []), lr: graph.input(names.lr, dtype, []) };
  const { norm, clipped } = clipGradNorm(grads, spec.maxGradNorm === undefined ? 1.0 : spec.maxGradNorm);
  graph.output(norm, names.gradNorm);
  params.forEach((p, i) => {
    const m = graph.input(names.m(p.name), p.dtype, p.shape);
    const v = graph.input(names.v(p.name), p.dtype, p.shape);
    const next = adamwUpdate(p, clipped[i], m, v, scalars, cfg, !spec.noDecay?.(p.name));
    graph.output(next.param, names.next(p.name));
    graph.output(next.m, names.next(names.m(p.name)));
    graph.output(next.v, names.next(names.v(p.name)));
  });
}

/** Fused step: forward, backward, clipping and AdamW in one graph (the usual case: one micro-batch). */
export function buildTrainStep(spec: TrainGraphSpec): Graph {
  checkParams(spec.graph, spec.params);
  const grads = grad(spec.loss, spec.params, { recompute: spec.recompute });
  spec.graph.output(spec.loss, names.loss);
  outputMetrics(spec.graph, spec.metrics);
  appendOptimizer(spec.graph, spec.params, grads, spec);
  return spec.graph;
}

/**
 * Gradients only, for accumulation over micro-batches; the loss must be pre-scaled by the caller. With
 * `accumulate`, each `grad.<p>` output is `grad_acc.<p>` (an input) plus this micro-batch's gradient, the
 * addition being the acc input's only reader: the caller may have the output written over the input
 * (Executable.run's `into`), so a running sum needs no second set of gradients.
 */
export function buildGradStep(
  spec: Omit<TrainGraphSpec, keyof OptimizerSpec>,
  options: { accumulate?: boolean } = {},
): Graph {
  checkParams(spec.graph, spec.params);
  const grads = grad(spec.loss, spec.params, { recompute: spec.recompute });
  spec.graph.output(spec.loss, names.loss);
  outputMetrics(spec.graph, spec.metrics);
  spec.params.forEach((p, i) => {
    const g = options.accumulate
      ? add(spec.graph.input(names.gradAcc(p.name), p.dtype, p.shape), grads[i])
      : grads[i];
    spec.graph.output(g, names.grad(p.name));
  });
  return spec.graph;
}

export interface ParamSpec {
  name: string;
  dtype: DType;
  shape: Shape;
}

/** AdamW applied to accumulated gradients (each multiplied by the `optim.grad_scale` input first). */
export function buildApplyGrads(params: ParamSpec[], spec: OptimizerSpec = {}): Graph {
  const graph = new Graph('applyGrads');
  const ps = params.map((p) => graph.input(p.name, p.dtype, p.shape));
  const scale = graph.input(names.gradScale, params[0]?.dtype ?? 'float32', []);
  const grads = params.map((p) => mul(graph.input(names.grad(p.name), p.dtype, p.shape), scale));
  appendOptimizer(graph, ps, grads, spec);
  return graph;
}
