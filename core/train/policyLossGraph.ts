/**
 * The actor's loss on the Qwen2 policy, as one graph: per-token log-probs of the response tokens at the
 * rollout temperature, PPO-clip against the sampling policy's log-probs, optional KL-to-reference loss
 * and entropy bonus, aggregated by verl's modes; plus the sums the update's metrics are made of.
 * buildTrainStep / buildGradStep (core/graph) turn it into the fused or accumulating train step.
 */
import { Graph, op } from '../graph/index.ts';
import type { DType, Value } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import { declareQwen2Inputs } from '../model/qwen2.ts';
import { declareLoraInputs } from '../model/loraGraph.ts';
import type { LoraSpec } from '../model/lora.ts';
import type { WeightDtype } from '../model/weightDtype.ts';
import { tokenLogProbs } from '../model/tokenLogProbs.ts';
import type { LossAggMode } from '../rl/aggregation.ts';
import type { KlEstimatorName } from '../rl/kl.ts';
import type { ClipParams } from '../rl/policyLoss.ts';
import { actorLossGraph, aggregateLossGraph, klGraph, ppoClipLossGraph } from '../rl/lossGraph.ts';

export interface PolicyLossOptions {
  clip: ClipParams;
  aggMode: LossAggMode;
  /** KL to the reference as a loss term (kl.placement = "loss"); absent otherwise. */
  klLoss?: { estimator: KlEstimatorName };
  /** Build the entropy bonus into the loss (entropyCoef ≠ 0); entropy is reported either way. */
  entropyBonus: boolean;
  dtype?: DType;
  /** Tokens per chunk of the log-prob step over the vocabulary (core/model/tokenLogProbs.ts); 0 = whole. */
  chunkTokens?: number;
  /** Words per slice of the vocabulary in that step (tokenLogProbs.ts logProbChunking); 0 = none. */
  vocabWidth?: number;
  /** LoRA: the adapters are the trainable parameters; the base weights stay inputs with no gradient. */
  lora?: LoraSpec;
  /** LoRA's frozen base matrices as float16 inputs, each cast to float32 where a layer uses it. */
  baseDtype?: WeightDtype;
  /** The graph is fed temperature 1 only (tokenLogProbs' unitTemperature); the input stays declared. */
  unitTemperature?: boolean;
}

/** Names of the per-token and scalar inputs the packer (rolloutBatch.ts) fills. */
export const lossInputs = {
  oldLogprobs: 'old_logprobs',
  refLogprobs: 'ref_logprobs',
  advantages: 'advantages',
  lossMask: 'loss_mask',
  lossNorm: 'loss_norm',
  temperature: 'temperature',
  klCoef: 'kl_coef',
  entropyCoef: 'entropy_coef',
} as const;

/** Metric outputs: normalised aggregates (sum over micro-batches = mini-batch value) and raw token sums. */
export const lossMetrics = {
  pgLoss: 'metric.pg_loss',
  entropy: 'metric.entropy',
  klLoss: 'metric.kl_loss',
  tokens: 'metric.tokens',
  clipHighSum: 'metric.clip_high_sum',
  clipLowSum: 'metric.clip_low_sum',
  dualClipSum: 'metric.dual_clip_sum',
  approxKlSum: 'metric.approx_kl_sum',
  approxKlK3Sum: 'metric.approx_kl_k3_sum',
} as const;

export interface PolicyLossGraph {
  graph: Graph;
  loss: Value;
  params: Value[];
  metrics: Record<string, Value>;
}

export function buildPolicyLoss(config: Qwen2Config, opts: PolicyLossOptions): PolicyLossGraph {
  const dtype = opts.dtype ?? 'float32';
  const graph = new Graph('policyLoss');
  if (opts.baseDtype === 'float16' && !opts.lora)
    throw new Error('policy loss: a float16 base is for LoRA only (full training updates every weight)');
  const weightDtype = opts.baseDtype ?? 'float32';
  const { inputs, params } = declareQwen2Inputs(graph, config, dtype, 'batch', 'seq', weightDtype);
  const lora = opts.lora && declareLoraInputs(graph, config, opts.lora, params, dtype);
  const temperature = graph.input(lossInputs.temperature, dtype, []);
  const { logProbs, entropy } = tokenLogProbs(graph, inputs, params, config, temperature, {
    chunkTokens: opts.chunkTokens,
    vocabWidth: opts.vocabWidth,
    loraScaling: lora?.scaling,
    halfUse: 'upcast',
    unitTemperature: opts.unitTemperature,
  });
  const { loss, metrics } = actorLossOnTokens(graph, logProbs, entropy, opts);
  return { graph, loss, params: lora ? lora.adapters : [...params.values()], metrics };
}

/**
 * The actor loss given the policy's per-token log-probs and entropies [batch, tokens] (from the model, or
 * graph inputs in tests); declares the per-token and scalar inputs named in `lossInputs`.
 */
export function actorLossOnTokens(
  graph: Graph,
  logProbs: Value,
  entropy: Value,
  opts: PolicyLossOptions,
): { loss: Value; metrics: Record<string, Value> } {
  const dtype = logProbs.dtype;
  const perToken = (name: string) => graph.input(name, dtype, logProbs.shape);
  const scalar = (name: string) => graph.input(name, dtype, []);
  const oldLogprobs = perToken(lossInputs.oldLogprobs);
  const advantages = perToken(lossInputs.advantages);
  const mask = perToken(lossInputs.lossMask);
  const refLogprobs = opts.klLoss ? perToken(lossInputs.refLogprobs) : undefined;
  const norm = scalar(lossInputs.lossNorm);
  const klCoef = opts.klLoss ? scalar(lossInputs.klCoef) : undefined;
  const entropyCoef = opts.entropyBonus ? scalar(lossInputs.entropyCoef) : undefined;

  const ppo = graph.scope('ppo', () => ppoClipLossGraph(logProbs, oldLogprobs, advantages, opts.clip));
  const pg = aggregateLossGraph(ppo.loss, mask, opts.aggMode, norm);
  const entropyAgg = aggregateLossGraph(entropy, mask, opts.aggMode, norm);
  const klAgg =
    refLogprobs &&
    aggregateLossGraph(klGraph(opts.klLoss!.estimator, logProbs, refLogprobs), mask, opts.aggMode, norm);
  const loss = actorLossGraph({ pg, entropy: entropyAgg, entropyCoef, kl: klAgg, klCoef });

  const masked = (v: Value) => op.sumAll(op.mul(v, mask));
  const metrics: Record<string, Value> = {
    [lossMetrics.pgLoss]: pg,
    [lossMetrics.entropy]: entropyAgg,
    [lossMetrics.tokens]: op.sumAll(mask),
    [lossMetrics.clipHighSum]: masked(ppo.clippedHigh),
    [lossMetrics.clipLowSum]: masked(ppo.clippedLow),
    [lossMetrics.dualClipSum]: masked(ppo.dualClipped),
    [lossMetrics.approxKlSum]: masked(op.neg(ppo.logRatio)),
    [lossMetrics.approxKlK3Sum]: masked(op.sub(op.sub(ppo.ratio, ppo.logRatio), 1)),
  };
  if (klAgg) metrics[lossMetrics.klLoss] = klAgg;
  return { loss, metrics };
}
