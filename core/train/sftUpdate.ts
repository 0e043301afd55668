/**
 * The SFT optimizer step: one AdamW step on all the rows given, cut into micro-batches (gradient
 * accumulation) when they exceed `microBatchSize`, the loss normaliser computed over the whole batch so
 * accumulation changes memory use only, never the math; and the loss of rows without a step (eval).
 */
import { Executable, names } from '../graph/index.ts';
import type { Feeds, HostTensor, OptimizerState, SessionConfig } from '../graph/index.ts';
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
import { TrainSteps, lazy } from './trainSteps.ts';
import type { AdamWOptions } from './trainSteps.ts';
import { logProbChunking } from '../model/tokenLogProbs.ts';
import type { LogProbChunkSetting } from '../model/tokenLogProbs.ts';

export interface SftUpdaterOptions {
  /** Rows per forward/backward; absent: the whole batch in one pass. */
  microBatchSize?: number;
  optimizer: AdamWOptions;
  /** token-mean by default (HF Trainer / verl SFT). */
  aggMode?: LossAggMode;
  /** seq-mean-token-sum-norm's constant normaliser. */
  maxLength?: number;
  /** Token id that pads rows to the batch's longest (never scored). */
  padId?: number;
  /** The NLL over the vocabulary in chunks or slices (tokenLogProbs.ts `logProbChunking`); absent = auto. */
  logProbChunkTokens?: LogProbChunkSetting;
  /** Recompute each decoder layer's activations in the backward (gradient checkpointing); default false. */
  gradientCheckpointing?: boolean | 'selective';
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

export class SftUpdater {
  private constructor(
    private readonly config: Qwen2Config,
    private readonly opts: SftUpdaterOptions,
    private readonly steps: TrainSteps,
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
    const lossOpts = {
      aggMode: opts.aggMode,
      ...logProbChunking(opts.logProbChunkTokens, config.vocabSize),
    };
    const recompute = opts.gradientCheckpointing ?? false;
    const steps = new TrainSteps(
      () => ({ ...buildSftLoss(config, lossOpts), recompute }),
      opts.optimizer,
      session,
    );
    const forward = lazy(() => {
      const l = buildSftLoss(config, lossOpts);
      l.graph.output(l.loss, names.loss);
      return Executable.compile(l.graph, session);
    });
    return new SftUpdater(config, opts, steps, forward);
  }

  /** One AdamW step on every row given; the loss reported is the batch's before the step. */
  async update(
    state: OptimizerState,
    rows: readonly SftRow[],
    ctx: { lr: number },
  ): Promise<{ state: OptimizerState; metrics: SftStepMetrics }> {
    const micros = this.microBatches(rows);
    const { result, sums } = await this.steps.step(state, micros.length, (k) => micros[k], ctx.lr);
    return {
      state: result.state,
      metrics: { loss: result.loss, tokens: sums[sftMetrics.tokens], gradNorm: result.gradNorm, lr: ctx.lr },
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
