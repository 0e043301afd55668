/**
 * The SFT optimizer step: one AdamW step on all the rows given, cut into micro-batches (gradient
 * accumulation) when they exceed `microBatchSize`, the loss normaliser computed over the whole batch so
 * accumulation changes memory use only, never the math; and the loss of rows without a step (eval).
 */
import {
  Executable,
  accumulateGrads,
  buildApplyGrads,
  buildGradStep,
  buildTrainStep,
  names,
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
} from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import type { LossAggMode } from '../rl/aggregation.ts';
import {
  buildSftLoss,
  checkSftRow,
  packSftRows,
  sftInputs,
  sftLossNorm,
  sftMetrics,
} from './sftLossGraph.ts';
import type { SftRow } from './sftLossGraph.ts';

export interface SftOptimizerOptions {
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip; null disables it (the norm is still reported). */
  maxGradNorm: number | null;
}

export interface SftUpdaterOptions {
  /** Rows per forward/backward; absent: the whole batch in one pass. */
  microBatchSize?: number;
  optimizer: SftOptimizerOptions;
  /** token-mean by default (HF Trainer / verl SFT). */
  aggMode?: LossAggMode;
  /** seq-mean-token-sum-norm's constant normaliser. */
  maxLength?: number;
  /** Token id that pads rows to the batch's longest (never scored). */
  padId?: number;
}

export interface SftStepMetrics {
  /** Aggregated NLL of the batch before the step (token-mean: mean NLL per loss token). */
  loss: number;
  /** Loss tokens in the batch. */
  tokens: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  lr: number;
}

const scalar = (x: number): HostTensor => ({ data: new Float32Array([x]), dims: [] });

/** Compiles a graph on first use only: the fused step, the accumulating pair and eval are each optional. */
function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= make());
}

export class SftUpdater {
  private constructor(
    private readonly config: Qwen2Config,
    private readonly opts: SftUpdaterOptions,
    private readonly fused: () => Promise<Executable>,
    private readonly gradStep: () => Promise<Executable>,
    private readonly apply: () => Promise<Executable>,
    private readonly forward: () => Promise<Executable>,
  ) {}

  static async create(
    config: Qwen2Config,
    opts: SftUpdaterOptions,
    session: SessionConfig = {},
  ): Promise<SftUpdater> {
    const micro = opts.microBatchSize;
    if (micro !== undefined && !(Number.isInteger(micro) && micro > 0))
      throw new RangeError(`SftUpdater: microBatchSize must be a positive integer (got ${micro})`);
    const max = opts.maxLength;
    if (opts.aggMode === 'seq-mean-token-sum-norm' && !(Number.isInteger(max) && max! > 0))
      throw new RangeError(
        `SftUpdater: aggMode seq-mean-token-sum-norm needs maxLength, a positive integer (got ${max})`,
      );
    const lossOpts = { aggMode: opts.aggMode };
    const optimizer: OptimizerSpec = {
      adamw: {
        beta1: opts.optimizer.betas[0],
        beta2: opts.optimizer.betas[1],
        eps: opts.optimizer.eps,
        weightDecay: opts.optimizer.weightDecay,
      },
      maxGradNorm: opts.optimizer.maxGradNorm,
    };
    const fused = lazy(() =>
      Executable.compile(buildTrainStep({ ...buildSftLoss(config, lossOpts), ...optimizer }), session),
    );
    const gradStep = lazy(() => Executable.compile(buildGradStep(buildSftLoss(config, lossOpts)), session));
    const apply = lazy(() => {
      const { params } = buildSftLoss(config, lossOpts);
      const specs = params.map((p) => ({ name: p.name, dtype: p.dtype, shape: p.shape }));
      return Executable.compile(buildApplyGrads(specs, optimizer), session);
    });
    const forward = lazy(() => {
      const l = buildSftLoss(config, lossOpts);
      l.graph.output(l.loss, names.loss);
      return Executable.compile(l.graph, session);
    });
    return new SftUpdater(config, opts, fused, gradStep, apply, forward);
  }

  /** One AdamW step on every row given; the loss reported is the batch's before the step. */
  async update(
    state: OptimizerState,
    rows: readonly SftRow[],
    ctx: { lr: number },
  ): Promise<{ state: OptimizerState; metrics: SftStepMetrics }> {
    const micros = this.microBatches(rows);
    let result: StepResult;
    let tokens = 0;
    if (micros.length === 1) {
      result = await runTrainStep(await this.fused(), state, micros[0], ctx.lr);
      tokens = result.metrics[sftMetrics.tokens];
    } else {
      const gradStep = await this.gradStep();
      let acc: Record<string, HostTensor> | undefined;
      let loss = 0;
      for (const feeds of micros) {
        const r = await runGradStep(gradStep, state.params, feeds);
        acc = accumulateGrads(acc, r.grads);
        loss += r.loss;
        tokens += r.metrics[sftMetrics.tokens];
      }
      result = await runApplyGrads(await this.apply(), state, acc!, ctx.lr);
      result.loss = loss;
    }
    return {
      state: result.state,
      metrics: { loss: result.loss, tokens, gradNorm: result.gradNorm, lr: ctx.lr },
    };
  }

  /** The aggregated NLL of `rows` under `params` (token-mean: mean NLL per loss token), forward only. */
  async loss(params: Record<string, HostTensor>, rows: readonly SftRow[]): Promise<number> {
    const exec = await this.forward();
    let loss = 0;
    for (const feeds of this.microBatches(rows)) {
      const out = await exec.run({ ...feeds, ...params }, [names.loss]);
      loss += Number(out[names.loss].data[0]);
    }
    return loss;
  }

  /** Feeds of each micro-batch, all carrying the whole batch's normaliser. */
  private microBatches(rows: readonly SftRow[]): Feeds[] {
    if (rows.length === 0) throw new RangeError('SftUpdater: no rows to train on');
    rows.forEach((r, i) => checkSftRow(r, i, this.config.vocabSize));
    const mode = this.opts.aggMode ?? 'token-mean';
    const norm = scalar(sftLossNorm(rows, mode, this.opts.maxLength));
    const size = Math.min(this.opts.microBatchSize ?? rows.length, rows.length);
    const out: Feeds[] = [];
    for (let start = 0; start < rows.length; start += size) {
      const feeds = packSftRows(rows.slice(start, start + size), this.opts.padId);
      feeds[sftInputs.lossNorm] = norm;
      out.push(feeds);
    }
    return out;
  }
}
