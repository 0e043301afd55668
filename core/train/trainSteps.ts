/**
 * The optimizer step both trainers share: a loss graph made into either the fused train step (forward,
 * backward, clip, AdamW in one graph) or a gradients-only step per micro-batch, accumulated on the host and
 * handed to the AdamW apply graph. Each graph is compiled on first use, so an updater only pays for the
 * path it runs.
 */
import {
  Executable,
  accumulateGrads,
  buildApplyGrads,
  buildGradStep,
  buildTrainStep,
  runApplyGrads,
  runGradStep,
  runTrainStep,
} from '../graph/index.ts';
import type {
  Feeds,
  HostTensor,
  OptimizerSpec,
  OptimizerState,
  SessionConfig,
  StepResult,
  TrainGraphSpec,
} from '../graph/index.ts';

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

function optimizerSpec(o: AdamWOptions): OptimizerSpec {
  return {
    adamw: { beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weightDecay },
    maxGradNorm: o.maxGradNorm,
  };
}

export class TrainSteps {
  /** Forward, backward, clip and AdamW in one graph: one micro-batch per step. */
  readonly fused: () => Promise<Executable>;
  /** Gradients of one micro-batch, for accumulation. */
  readonly gradStep: () => Promise<Executable>;
  /** Clip and AdamW on accumulated gradients. */
  readonly apply: () => Promise<Executable>;

  /** `buildLoss` is called once per graph: building a step adds outputs to the loss graph it is given. */
  constructor(buildLoss: () => LossGraph, optimizer: AdamWOptions, session: SessionConfig = {}) {
    const spec = optimizerSpec(optimizer);
    this.fused = lazy(() => Executable.compile(buildTrainStep({ ...buildLoss(), ...spec }), session));
    this.gradStep = lazy(() => Executable.compile(buildGradStep(buildLoss()), session));
    this.apply = lazy(() => {
      const specs = buildLoss().params.map((p) => ({ name: p.name, dtype: p.dtype, shape: p.shape }));
      return Executable.compile(buildApplyGrads(specs, spec), session);
    });
  }

  /**
   * One AdamW step on the summed gradients of `count` micro-batches (`feedsOf(i)` packs the i-th when its
   * turn comes): the fused graph when `fused`, else a gradient step per micro-batch, then apply. The loss
   * and every scalar metric come back summed over the micro-batches; the loss graphs normalise by the whole
   * batch, so the sums are the batch's values.
   */
  async step(
    state: OptimizerState,
    count: number,
    feedsOf: (i: number) => Feeds,
    lr: number,
    fused: boolean,
  ): Promise<{ result: StepResult; sums: Record<string, number> }> {
    if (fused) {
      if (count !== 1)
        throw new RangeError(`TrainSteps: the fused step takes one micro-batch (got ${count})`);
      const result = await runTrainStep(await this.fused(), state, feedsOf(0), lr);
      return { result, sums: result.metrics };
    }
    const gradStep = await this.gradStep();
    let acc: Record<string, HostTensor> | undefined;
    const sums: Record<string, number> = {};
    let loss = 0;
    for (let i = 0; i < count; i++) {
      const r = await runGradStep(gradStep, state.params, feedsOf(i));
      acc = accumulateGrads(acc, r.grads);
      loss += r.loss;
      for (const [k, v] of Object.entries(r.metrics)) sums[k] = (sums[k] ?? 0) + v;
    }
    const result = await runApplyGrads(await this.apply(), state, acc!, lr);
    result.loss = loss;
    return { result, sums };
  }
}
