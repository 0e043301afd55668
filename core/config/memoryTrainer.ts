/**
 * The trainer's memory, term by term, as the trainer of core/train holds it (TrainSteps): one set of
 * parameters (or, with LoRA, the frozen base fed as inputs and the adapters), AdamW's moments and the
 * running gradient sum — all of the trained tensors only — and at the peak of a micro-batch the largest of
 * what never coexists: the backward's working set in each of its three stretches (the log-probs' gradient
 * Loop, the decoder layers, the embedding's end) or, once it is freed, onnxruntime-node's copy of the
 * gradient outputs it hands back. docs/model.md ("Memory estimate") compares the sum with measured peaks.
 */
import type { Qwen2Config } from '../model/config.ts';
import { loraParameterCount, type LoraSpec } from '../model/lora.ts';
import type { WeightDtype } from '../model/weightDtype.ts';
import type { LogProbChunking } from '../model/tokenLogProbs.ts';
import { qwen2ParameterCount } from '../model/parameters.ts';
import type { MemoryTerm } from './memoryPlan.ts';
import {
  activationBytes,
  adamStateBytes,
  FLOAT32_BYTES,
  halfBaseBytes,
  halfBaseCastBytes,
  logitsBlockBytes,
  RUNTIME_BASE_BYTES,
  weightBytes,
} from './memoryFormulas.ts';

export interface TrainerShape {
  /** Rows of one micro-batch and their padded length (prompt + response). */
  rows: number;
  length: number;
  /** How the log-probs split the [tokens, vocab] block (tokenLogProbs.ts logProbChunking). */
  chunking: LogProbChunking;
  /** Per-layer recomputation (algorithm.gradientCheckpointing): "selective" keeps the projections. */
  recompute: boolean | 'selective';
  lora?: LoraSpec;
  /** algorithm.lora.baseDtype: the frozen base's matrices at 2 bytes ("float16") or 4 (absent). */
  baseDtype?: WeightDtype;
}

/**
 * What the forward keeps for the backward. Recomputing: each layer's input, plus the final norm's input
 * and output (the residual stream twice more), and selectively each layer's kept projections; else every
 * layer's values (activationBytes).
 */
export function savedActivationBytes(
  config: Qwen2Config,
  rows: number,
  length: number,
  recompute: boolean | 'selective',
) {
  if (!recompute) return activationBytes(config, rows, length);
  const residual = (config.numHiddenLayers + 2) * rows * length * config.hiddenSize * FLOAT32_BYTES;
  return residual + (recompute === 'selective' ? keptProjectionBytes(config, rows, length) : 0);
}

/** Selective recomputation's kept values: every layer's q, k, v, o, gate and up outputs (qwen2.ts). */
export function keptProjectionBytes(config: Qwen2Config, rows: number, length: number): number {
  const q = config.numAttentionHeads * config.headDim;
  const kv = config.numKeyValueHeads * config.headDim;
  const width = q + 2 * kv + config.hiddenSize + 2 * config.intermediateSize;
  return config.numHiddenLayers * rows * length * width * FLOAT32_BYTES;
}

/**
 * One decoder layer's backward: its values (recomputed, when recomputing) and their gradients, as many
 * again while the layer is differentiated.
 */
export function layerBackwardBytes(
  config: Qwen2Config,
  rows: number,
  length: number,
  recompute: boolean | 'selective',
) {
  const one = activationBytes({ ...config, numHiddenLayers: 1 }, rows, length);
  return (recompute ? 2 : 1) * one;
}

/**
 * The backward's working set in each stretch, which follow one another (so the peak is the largest):
 * - the log-probs' gradient Loop: what the forward kept, a logits block, and with a trained (tied)
 *   embedding two [vocab, hidden] lm_head gradient sums, the one carried in and the one coming out;
 * - each decoder layer's backward: what was kept, the layer, and the finished lm_head gradient;
 * - the embedding's end: the lm_head gradient, the lookup's scattered gradient and their sum.
 * LoRA trains no embedding: no [vocab, hidden] block in any stretch.
 */
export function backwardStretches(
  config: Qwen2Config,
  s: Pick<TrainerShape, 'rows' | 'length' | 'chunking' | 'recompute' | 'lora'>,
): { name: string; bytes: number }[] {
  const vh = s.lora ? 0 : config.vocabSize * config.hiddenSize * FLOAT32_BYTES;
  const saved = savedActivationBytes(config, s.rows, s.length, s.recompute);
  const logits = logitsBlockBytes(s.rows * s.length, config.vocabSize, s.chunking, true);
  const layer = layerBackwardBytes(config, s.rows, s.length, s.recompute);
  return [
    { name: 'log-probs', bytes: saved + logits + 2 * vh },
    { name: 'layers', bytes: saved + layer + vh },
    { name: 'embedding', bytes: 3 * vh },
  ];
}

/** The trainer's terms; with RUNTIME_BASE_BYTES their sum is its estimate. */
export function trainerTerms(config: Qwen2Config, s: TrainerShape): MemoryTerm[] {
  const params = qwen2ParameterCount(config);
  const trained = s.lora ? loraParameterCount(config, s.lora) : params;
  const stretches = backwardStretches(config, s);
  const backward = stretches.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const copy = trained * FLOAT32_BYTES;
  const fmt = (b: number) => `${(b / 1e9).toFixed(2)}`;
  const transient =
    backward.bytes >= copy
      ? `backward, ${stretches.map((t) => `${t.name} ${fmt(t.bytes)}`).join(' / ')} GB`
      : `the gradients' copy back from onnxruntime (> backward ${fmt(backward.bytes)} GB)`;
  const halfBase = s.lora !== undefined && s.baseDtype === 'float16';
  return [
    halfBase
      ? { name: 'weights (frozen base, float16 matrices)', bytes: halfBaseBytes(config) }
      : { name: s.lora ? 'weights (frozen base)' : 'weights', bytes: weightBytes(params) },
    ...(halfBase
      ? [{ name: 'float32 casts of the base (LM head, one layer)', bytes: halfBaseCastBytes(config) }]
      : []),
    ...(s.lora ? [{ name: `LoRA adapters (${trained.toLocaleString('en-US')})`, bytes: trained * 4 }] : []),
    { name: 'gradients (running sum)', bytes: trained * FLOAT32_BYTES },
    { name: 'AdamW m, v', bytes: adamStateBytes(trained) },
    {
      name: `peak of a micro-batch (${s.rows} rows × ${s.length} tokens): ${transient}`,
      bytes: Math.max(backward.bytes, copy),
    },
  ];
}

export function trainerEstimate(config: Qwen2Config, s: TrainerShape): number {
  return trainerTerms(config, s).reduce((sum, t) => sum + t.bytes, RUNTIME_BASE_BYTES);
}
