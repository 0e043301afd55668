/**
 * The optimizer step both trainers share: a loss graph made into an accumulating gradient step, run once per
 * micro-batch with onnxruntime writing the running gradient sum in place, then AdamW on the host updating
 * parameters and moments in place (core/graph/hostAdamW.ts). At any time the trainer holds one set of
 * parameters, one of moments and one of gradients (docs/model.md, "Memory estimate"), whatever the
 * micro-batching. The graph is compiled on first use.
 */
import {
  Executable,
  applyGradsInPlace,
  buildGradStep,
  collectGarbage,
  runGradStepInto,
  zeroGrads,
} from '../graph/index.ts';
import type {
  Feeds,
  HostAdamWOptions,
  HostTensor,
  OptimizerSpec,
  OptimizerState,
  SessionConfig,
  StepResult,
  TrainGraphSpec,
} from '../graph/index.ts';

/**
 * Where optimizer steps' wall time goes, summed over the steps it is passed to (bench:update prints it).
 * `runMs` is onnxruntime's share: forward, backward and the gradient accumulation, plus the binding's
 * wrapping of the feeds and copying of the outputs, and the collection of that copy (large models).
 */
export interface StepTimings {
  /** Packing rows into feeds (token ids, masks, old log-probs, advantages): the caller's `feedsOf`. */
  packMs: number;
  /** The zeroed gradient sums allocated at the start of each step. */
  zeroMs: number;
  runMs: number;
  /** The global gradient norm (clipping), on the host. */
  normMs: number;
  /** AdamW's update of parameters and moments, on the host. */
  adamwMs: number;
}

export function emptyStepTimings(): StepTimings {
  return { packMs: 0, zeroMs: 0, runMs: 0, normMs: 0, adamwMs: 0 };
}

/** AdamW and gradient clipping as the run configs spell them. */
export interface AdamWOptions {
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip; null disables it (the norm is still reported). */
  maxGradNorm: number | null;
}

/** A trainer's loss graph as the train-step builders take it: loss, parameters, metrics. */
type LossGraph = Omit<TrainGraphSpec, keyof OptimizerSpec>;

/** Compiles on first call only, then hands back the same promise. */
export function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= make());
}

function hostAdamW(o: AdamWOptions): HostAdamWOptions {
  return {
    adamw: { beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weightDecay },
    maxGradNorm: o.maxGradNorm,
  };
}

/**
 * The trainers' sessions run without onnxruntime's CPU arena (the backward's peak is not kept resident)
 * and without constant folding (the gradient sums' zeros would be held as [vocab, hidden] initializers).
 */
export function trainerSession(session: SessionConfig): SessionConfig {
  return { memoryArena: false, constantFolding: false, ...session };
}

/** Trained tensors from this size up have their gradients' garbage collected as soon as it is garbage. */
export const COLLECT_GRADIENTS_BYTES = 64 * 2 ** 20;

/**
 * Whether a step over these parameters collects garbage after each run and at its end: small models
 * (tests, toy runs) skip it, where a collection's milliseconds cost more than the copies it frees.
 */
export function collectsGarbage(params: Record<string, HostTensor>): boolean {
  let bytes = 0;
  for (const t of Object.values(params)) bytes += t.data.byteLength;
  return bytes >= COLLECT_GRADIENTS_BYTES;
}

export class TrainSteps {
  /** Gradients of one micro-batch added to the running sum (buildGradStep with `accumulate`). */
  readonly gradStep: () => Promise<Executable>;
  private readonly adamw: HostAdamWOptions;

  /** `buildLoss` is called once per graph: building a step adds outputs to the loss graph it is given. */
  constructor(buildLoss: () => LossGraph, optimizer: AdamWOptions, session: SessionConfig = {}) {
    this.adamw = hostAdamW(optimizer);
    this.gradStep = lazy(() =>
      Executable.compile(buildGradStep(buildLoss(), { accumulate: true }), trainerSession(session)),
    );
  }

  /**
   * One AdamW step on the summed gradients of `count` micro-batches (`feedsOf(i)` packs the i-th when its
   * turn comes). `state` is updated in place and returned. The loss and every scalar metric come back summed
   * over the micro-batches; the loss graphs normalise by the whole batch, so the sums are the batch's values.
   * `timings`, when given, has this step's time per part added to it.
   */
  async step(
    state: OptimizerState,
    count: number,
    feedsOf: (i: number) => Feeds,
    lr: number,
    timings?: StepTimings,
  ): Promise<{ result: StepResult; sums: Record<string, number> }> {
    const large = collectsGarbage(state.params);
    const out = await this.accumulateAndApply(state, count, feedsOf, lr, large, timings);
    // The step's gradient sums are garbage now: given back before the next step's backward or the
    // checkpoint's write, rather than whenever V8 next collects.
    if (large) collectGarbage();
    return out;
  }

  private async accumulateAndApply(
    state: OptimizerState,
    count: number,
    feedsOf: (i: number) => Feeds,
    lr: number,
    large: boolean,
    timings?: StepTimings,
  ): Promise<{ result: StepResult; sums: Record<string, number> }> {
    const gradStep = await this.gradStep();
    let t = performance.now();
    const lap = (part: keyof StepTimings) => {
      const now = performance.now();
      if (timings) timings[part] += now - t;
      t = now;
    };
    // Allocated per step and dropped after it: a warm trainer between steps holds no gradients.
    const acc = zeroGrads(state.params);
    lap('zeroMs');
    const sums: Record<string, number> = {};
    let loss = 0;
    for (let i = 0; i < count; i++) {
      const feeds = feedsOf(i);
      lap('packMs');
      const r = await runGradStepInto(gradStep, state.params, feeds, acc);
      // onnxruntime-node handed back a copy of the sums it wrote into `acc`, dropped at once: collected
      // now, not under the next micro-batch's backward (collectGarbage.ts).
      if (large) collectGarbage();
      lap('runMs');
      loss += r.loss;
      for (const [k, v] of Object.entries(r.metrics)) sums[k] = (sums[k] ?? 0) + v;
    }
    const result = applyGradsInPlace(state, acc, lr, this.adamw, 1, timings);
    result.loss = loss;
    return { result, sums };
  }
}
