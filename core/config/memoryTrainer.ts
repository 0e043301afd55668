/**
 * The trainer's memory, term by term, as the trainer of core/train holds it (TrainSteps): one set of
 * parameters (or, with LoRA, the frozen base fed as inputs and the adapters), AdamW's moments and the
 * running gradient sum — all of the trained tensors only — and at the peak of a micro-batch the larger of
 * two transients that never coexist: the backward's working set (what the forward kept, one layer's
 * backward, the logits block, the embedding's gradients) or, once it is freed, onnxruntime-node's copy of
 * the gradient outputs it hands back. docs/model.md ("Memory estimate") compares the sum with measured peaks.
 */
import type { Qwen2Config } from '../model/config.ts';
import { loraParameterCount, type LoraSpec } from '../model/lora.ts';
import type { WeightDtype } from '../model/weightDtype.ts';
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
  /** Log-prob chunk tokens (0 = the whole [tokens, vocab] block). */
  chunkTokens: number;
  /** Per-layer recomputation (algorithm.gradientCheckpointing). */
  recompute: boolean;
  lora?: LoraSpec;
  /** algorithm.lora.baseDtype: the frozen base's matrices at 2 bytes ("float16") or 4 (absent). */
  baseDtype?: WeightDtype;
}

/**
 * What the forward keeps for the backward. Recomputing: each layer's input, plus the final norm's input
 * and output (the residual stream twice more); else every layer's values (activationBytes).
 */
export function savedActivationBytes(config: Qwen2Config, rows: number, length: number, recompute: boolean) {
  if (!recompute) return activationBytes(config, rows, length);
  return (config.numHiddenLayers + 2) * rows * length * config.hiddenSize * FLOAT32_BYTES;
}

/**
 * One decoder layer's backward: its values (recomputed, when recomputing) and their gradients, as many
 * again while the layer is differentiated.
 */
export function layerBackwardBytes(config: Qwen2Config, rows: number, length: number, recompute: boolean) {
  const one = activationBytes({ ...config, numHiddenLayers: 1 }, rows, length);
  return (recompute ? 2 : 1) * one;
}

/**
 * The [vocab, hidden] gradients of a trained embedding: the lm_head gradient the chunked log-probs carry
 * through their loop (two while an iteration adds to it) and the embedding lookup's scattered gradient.
 * LoRA trains no embedding: 0.
 */
export function embeddingGradBytes(config: Qwen2Config, trained: boolean): number {
  return trained ? 3 * config.vocabSize * config.hiddenSize * FLOAT32_BYTES : 0;
}

/** The trainer's terms; with RUNTIME_BASE_BYTES their sum is its estimate. */
export function trainerTerms(config: Qwen2Config, s: TrainerShape): MemoryTerm[] {
  const params = qwen2ParameterCount(config);
  const trained = s.lora ? loraParameterCount(config, s.lora) : params;
  const tokens = s.rows * s.length;
  const saved = savedActivationBytes(config, s.rows, s.length, s.recompute);
  const layer = layerBackwardBytes(config, s.rows, s.length, s.recompute);
  const logits = logitsBlockBytes(tokens, config.vocabSize, s.chunkTokens, true);
  const embedding = embeddingGradBytes(config, !s.lora);
  const backward = saved + layer + logits + embedding;
  const copy = trained * FLOAT32_BYTES;
  const fmt = (b: number) => `${(b / 1e9).toFixed(2)}`;
  const transient =
    backward >= copy
      ? `backward: kept ${fmt(saved)} + layer ${fmt(layer)} + logits ${fmt(logits)} + embedding grads ${fmt(embedding)} GB`
      : `the gradients' copy back from onnxruntime (> backward ${fmt(backward)} GB)`;
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
      bytes: Math.max(backward, copy),
    },
  ];
}

export function trainerEstimate(config: Qwen2Config, s: TrainerShape): number {
  return trainerTerms(config, s).reduce((sum, t) => sum + t.bytes, RUNTIME_BASE_BYTES);
}
