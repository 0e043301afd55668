/**
 * The actor update of one RL step: the rollout batch cut into mini-batches (one AdamW step each) and
 * micro-batches (gradient accumulation) by `planUpdate`, one or more epochs; the loss normaliser of each
 * mini-batch computed over the whole mini-batch so accumulation is exact; verl's metrics per step.
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
import type { Feeds, HostTensor, OptimizerState, SessionConfig, StepResult } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import type { RlAlgorithmConfig } from '../config/rl.ts';
import { planUpdate } from '../rl/batchPlan.ts';
import { lossNormalizer } from '../rl/lossGraph.ts';
import { buildPolicyLoss, lossInputs, lossMetrics } from './policyLossGraph.ts';
import { lossTokenCount, packRows } from './rolloutBatch.ts';
import type { RolloutRow } from './rolloutBatch.ts';

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
>;

export class PolicyUpdater {
  private constructor(
    private readonly algo: Algo,
    private readonly fused: Executable | undefined,
    private readonly gradStep: Executable | undefined,
    private readonly apply: Executable | undefined,
  ) {}

  static async create(config: Qwen2Config, algo: Algo, session: SessionConfig = {}): Promise<PolicyUpdater> {
    const lossOpts = {
      clip: algo.clip,
      aggMode: algo.lossAgg,
      klLoss: algo.kl.placement === 'loss' ? { estimator: algo.kl.estimator } : undefined,
      entropyBonus: algo.entropyCoef !== 0,
    };
    const optimizer = {
      adamw: {
        beta1: algo.optimizer.betas[0],
        beta2: algo.optimizer.betas[1],
        eps: algo.optimizer.eps,
        weightDecay: algo.optimizer.weightDecay,
      },
      maxGradNorm: algo.optimizer.maxGradNorm,
    };
    if (algo.microBatchSize === algo.miniBatchSize) {
      const l = buildPolicyLoss(config, lossOpts);
      const fused = await Executable.compile(buildTrainStep({ ...l, ...optimizer }), session);
      return new PolicyUpdater(algo, fused, undefined, undefined);
    }
    const l = buildPolicyLoss(config, lossOpts);
    const gradStep = await Executable.compile(buildGradStep(l), session);
    const apply = await Executable.compile(
      buildApplyGrads(
        l.params.map((p) => ({ name: p.name, dtype: p.dtype, shape: p.shape })),
        optimizer,
      ),
      session,
    );
    return new PolicyUpdater(algo, undefined, gradStep, apply);
  }

  /** Runs every optimizer step of one rollout batch; returns the new state and one metrics record per step. */
  async update(
    state: OptimizerState,
    rows: readonly RolloutRow[],
    ctx: UpdateContext,
  ): Promise<{ state: OptimizerState; metrics: UpdateMetrics[] }> {
    const a = this.algo;
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
    const scalar = (x: number): HostTensor => ({ data: new Float32Array([x]), dims: [] });
    for (let i = 0; i < plan.microBatches.length;) {
      const { epoch, miniBatch } = plan.microBatches[i];
      const micros = [];
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
        ...packRows(
          [...rowIdx].map((r) => rows[r]),
          { withRef },
        ),
        ...common,
      });
      let result: StepResult;
      let sums: Record<string, number>;
      if (this.fused) {
        result = await runTrainStep(this.fused, state, feedsOf(micros[0].rows), ctx.lr);
        sums = result.metrics;
      } else {
        let acc: Record<string, HostTensor> | undefined;
        sums = {};
        let loss = 0;
        for (const m of micros) {
          const r = await runGradStep(this.gradStep!, state.params, feedsOf(m.rows));
          acc = accumulateGrads(acc, r.grads);
          loss += r.loss;
          for (const [k, v] of Object.entries(r.metrics)) sums[k] = (sums[k] ?? 0) + v;
        }
        result = await runApplyGrads(this.apply!, state, acc!, ctx.lr);
        result.loss = loss;
      }
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
