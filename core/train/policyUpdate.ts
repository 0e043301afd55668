/**
 * The actor update of one RL step: the rollout batch cut into mini-batches (one AdamW step each) and
 * micro-batches (gradient accumulation) by `planUpdate`, one or more epochs; the loss normaliser of each
 * mini-batch computed over the whole mini-batch so accumulation is exact; verl's metrics per step.
 */
import type { DType, Feeds, HostTensor, OptimizerState, SessionConfig } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import type { RlAlgorithmConfig } from '../config/rl.ts';
import { logProbChunking } from '../model/tokenLogProbs.ts';
import { planUpdate } from '../rl/batchPlan.ts';
import type { MicroBatch } from '../rl/batchPlan.ts';
import { lossNormalizer } from '../rl/lossGraph.ts';
import { buildPolicyLoss, lossInputs, lossMetrics } from './policyLossGraph.ts';
import { lossTokenCount, packRows } from './rolloutBatch.ts';
import type { RolloutRow } from './rolloutBatch.ts';
import { TrainSteps, type StepTimings } from './trainSteps.ts';
import type { LoraSpec } from '../model/lora.ts';
import { weightFeeds } from '../model/weightFeeds.ts';
import type { WeightDtype } from '../model/weightDtype.ts';

/** What one optimizer step reports (verl's actor metrics). */
export interface UpdateMetrics {
  pgLoss: number;
  clipFracHigh: number;
  clipFracLow: number;
  dualClipFrac: number;
  /** KL(π_old ‖ π_θ) by k1 (verl ppo_kl) and k3. */
  approxKl: number;
  approxKlK3: number;
  /** Aggregated KL to the reference (KL as a loss; 0 otherwise). */
  klLoss: number;
  klCoef: number;
  entropy: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  lr: number;
  loss: number;
}

export interface UpdateContext {
  /** Run seed (uint32) and RL step: the mini-batch shuffle depends on both. */
  seed: number;
  step: number;
  /** The rollout temperature: the loss scores tokens under π/T, as they were sampled. */
  temperature: number;
  lr: number;
  klCoef: number;
  /** seq-mean-token-sum-norm's constant (the rollout's max new tokens). */
  maxLength?: number;
  /** Told before each micro-batch runs (an activity heartbeats with it). */
  onMicroBatch?: (done: number, total: number) => void;
  /** Each optimizer step's time per part is added here (bench:update's breakdown). */
  timings?: StepTimings;
}

type Algo = Pick<
  RlAlgorithmConfig,
  | 'clip'
  | 'lossAgg'
  | 'entropyCoef'
  | 'epochs'
  | 'miniBatchSize'
  | 'microBatchSize'
  | 'shuffle'
  | 'optimizer'
  | 'kl'
  | 'lossAggMaxLength'
> &
  Partial<Pick<RlAlgorithmConfig, 'logProbChunkTokens' | 'gradientCheckpointing'>> & {
    lora?: LoraSpec & { baseDtype?: WeightDtype };
  };

/** The policy loss graph's options for an algorithm config (bench:update profiles the same graph). */
export function policyLossOptions(config: Qwen2Config, algo: Algo, dtype: DType = 'float32') {
  return {
    dtype,
    clip: algo.clip,
    aggMode: algo.lossAgg,
    klLoss: algo.kl.placement === 'loss' ? { estimator: algo.kl.estimator } : undefined,
    entropyBonus: algo.entropyCoef !== 0,
    ...logProbChunking(algo.logProbChunkTokens, config.vocabSize),
    lora: algo.lora,
    baseDtype: algo.lora?.baseDtype,
  };
}

export class PolicyUpdater {
  private constructor(
    private readonly config: Qwen2Config,
    private readonly algo: Algo,
    private readonly steps: StepsByTemperature,
    private readonly dtype: DType,
  ) {}

  /**
   * `dtype` float64 builds every graph in double precision (the state's tensors must then be Float64Array):
   * the parity test against the PyTorch trainer (trainers/torch) uses it; runs use float32.
   */
  static async create(
    config: Qwen2Config,
    algo: Algo,
    session: SessionConfig = {},
    dtype: DType = 'float32',
    /** The rollout temperature the updates will pass, if known (the run's `rollout.temperature`). */
    temperature = 1,
  ): Promise<PolicyUpdater> {
    const lossOpts = policyLossOptions(config, algo, dtype);
    const recompute = algo.gradientCheckpointing ?? false;
    const stepsFor = (unitTemperature: boolean) =>
      new TrainSteps(
        () => ({ ...buildPolicyLoss(config, { ...lossOpts, unitTemperature }), recompute }),
        algo.optimizer,
        session,
      );
    const steps: StepsByTemperature = { unit: stepsFor(true), any: stepsFor(false) };
    // The graph for `temperature` compiled now rather than at the first update: a broken graph fails the
    // set-up, and the timings of updates (bench:update) hold no compile. The other compiles if ever used.
    await stepsAt(steps, temperature).gradStep();
    return new PolicyUpdater(config, algo, steps, dtype);
  }

  /**
   * Runs every optimizer step of one rollout batch; returns the state, updated in place (its arrays are
   * overwritten: a caller that needs the old values copies them first), and one metrics record per step.
   * With LoRA the state holds the adapters (and their moments) only, and `base` the frozen weights, fed
   * as they are to every step (with lora.baseDtype float16, matrices as halfWeights holds them).
   */
  async update(
    state: OptimizerState,
    rows: readonly RolloutRow[],
    ctx: UpdateContext,
    base?: ReadonlyMap<string, Float32Array | Uint16Array>,
  ): Promise<{ state: OptimizerState; metrics: UpdateMetrics[] }> {
    const a = this.algo;
    if (a.lora && !base) throw new Error('PolicyUpdater: LoRA needs the base weights');
    const frozen: Feeds = a.lora ? weightFeeds(this.config, base!, a.lora.baseDtype) : {};
    const plan = planUpdate({
      batchSize: rows.length,
      miniBatchSize: Math.min(a.miniBatchSize, rows.length),
      microBatchSize: Math.min(a.microBatchSize, rows.length),
      epochs: a.epochs,
      seed: ctx.seed,
      step: ctx.step,
      shuffle: a.shuffle,
    });
    const maxLength = a.lossAggMaxLength ?? ctx.maxLength;
    const withRef = a.kl.placement === 'loss';
    const metrics: UpdateMetrics[] = [];
    const scalar = (x: number): HostTensor => ({ data: floats(this.dtype, [x]), dims: [] });
    for (let i = 0; i < plan.microBatches.length;) {
      const { epoch, miniBatch } = plan.microBatches[i];
      const micros: MicroBatch[] = [];
      while (
        i < plan.microBatches.length &&
        plan.microBatches[i].epoch === epoch &&
        plan.microBatches[i].miniBatch === miniBatch
      )
        micros.push(plan.microBatches[i++]);
      const miniRows = micros.flatMap((m) => [...m.rows]);
      const norm = lossNormalizer(
        miniRows.map((r) => lossTokenCount(rows[r])),
        a.lossAgg,
        maxLength,
      );
      const common: Feeds = {
        [lossInputs.lossNorm]: scalar(norm),
        [lossInputs.temperature]: scalar(ctx.temperature),
      };
      if (withRef) common[lossInputs.klCoef] = scalar(ctx.klCoef);
      if (a.entropyCoef !== 0) common[lossInputs.entropyCoef] = scalar(a.entropyCoef);
      const feedsOf = (rowIdx: Int32Array): Feeds => ({
        ...withDtype(
          packRows(
            [...rowIdx].map((r) => rows[r]),
            { withRef },
          ),
          this.dtype,
        ),
        ...common,
        ...frozen,
      });
      const { result, sums } = await stepsAt(this.steps, ctx.temperature).step(
        state,
        micros.length,
        (k) => {
          ctx.onMicroBatch?.(i - micros.length + k, plan.microBatches.length);
          return feedsOf(micros[k].rows);
        },
        ctx.lr,
        ctx.timings,
      );
      state = result.state;
      const tokens = sums[lossMetrics.tokens] || 1;
      metrics.push({
        loss: result.loss,
        pgLoss: sums[lossMetrics.pgLoss],
        clipFracHigh: sums[lossMetrics.clipHighSum] / tokens,
        clipFracLow: sums[lossMetrics.clipLowSum] / tokens,
        dualClipFrac: sums[lossMetrics.dualClipSum] / tokens,
        approxKl: sums[lossMetrics.approxKlSum] / tokens,
        approxKlK3: sums[lossMetrics.approxKlK3Sum] / tokens,
        klLoss: sums[lossMetrics.klLoss] ?? 0,
        klCoef: ctx.klCoef,
        entropy: sums[lossMetrics.entropy],
        gradNorm: result.gradNorm,
        lr: ctx.lr,
      });
    }
    return { state, metrics };
  }
}

/** The step's graphs: for temperature 1 (no division of the logits) and for any other. */
interface StepsByTemperature {
  unit: TrainSteps;
  any: TrainSteps;
}

/** The graph that scores tokens sampled at `temperature`. */
function stepsAt(steps: StepsByTemperature, temperature: number): TrainSteps {
  return temperature === 1 ? steps.unit : steps.any;
}

function floats(dtype: DType, values: ArrayLike<number>): Float32Array | Float64Array {
  return dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
}

/** The packed rows' float32 tensors in the graph's dtype (a float64 graph takes float64 feeds). */
function withDtype(feeds: Feeds, dtype: DType): Feeds {
  if (dtype !== 'float64') return feeds;
  const out: Feeds = {};
  for (const [name, t] of Object.entries(feeds))
    out[name] = t.data instanceof Float32Array ? { data: floats(dtype, t.data), dims: t.dims } : t;
  return out;
}
