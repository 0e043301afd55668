/**
 * Memory of one worker role, term by term, as pure functions of the model's shapes and the run's sizes
 * (bytes; float32 = 4 bytes per value). Each term is what the host holds at the peak of its phase; the
 * formulas are written out in docs/model.md ("Memory estimate") and compared there with measured peaks.
 */
import type { Qwen2Config } from '../model/config.ts';
import type { LogProbChunking } from '../model/tokenLogProbs.ts';
import { elementCount, layerPrefix, qwen2Parameters } from '../model/parameters.ts';

export const FLOAT32_BYTES = 4;
/** Node, onnxruntime's code and arenas before any tensor: measured ≈ 0.2 GB for a worker at rest. */
export const RUNTIME_BASE_BYTES = 200e6;

/** Weights: P values. Half-precision matrices (rollout.weightDtype float16) are a second copy at 2 bytes. */
export function weightBytes(parameters: number, halfCopy = false): number {
  return parameters * FLOAT32_BYTES + (halfCopy ? parameters * 2 : 0);
}

/**
 * A frozen LoRA base held with its matrices at half precision (algorithm.lora.baseDtype float16):
 * 2 bytes per matrix value (the embedding, the projections, an untied LM head), 4 per norm or bias value.
 */
export function halfBaseBytes(config: Qwen2Config): number {
  return qwen2Parameters(config).reduce(
    (sum, p) => sum + elementCount(p.shape) * (p.shape.length === 2 ? 2 : FLOAT32_BYTES),
    0,
  );
}

/**
 * The float32 casts a half base is used through: the LM head's [vocab, hidden] for the log-probs (forward
 * and backward), and one layer's matrices at a time, with the half copies its recomputed backward reads
 * them through (core/graph/recompute.ts).
 */
export function halfBaseCastBytes(config: Qwen2Config): number {
  const layer = qwen2Parameters(config)
    .filter((p) => p.name.startsWith(`${layerPrefix(0)}.`) && p.shape.length === 2)
    .reduce((sum, p) => sum + elementCount(p.shape), 0);
  return (config.vocabSize * config.hiddenSize + layer) * FLOAT32_BYTES + layer * 2;
}

/** AdamW's first and second moments: 2 P values. */
export function adamStateBytes(parameters: number): number {
  return 2 * parameters * FLOAT32_BYTES;
}

/**
 * Values the forward keeps for the backward, per layer and token: about 10 of width H (norm inputs and
 * outputs, q/k/v after bias and RoPE, attention output, o_proj output, residuals) and 4 of width I (gate, up,
 * SiLU(gate), their product); plus per layer and head the attention scores and probabilities, T × T each.
 */
export function activationBytes(config: Qwen2Config, sequences: number, length: number): number {
  const tokens = sequences * length;
  const perLayerToken = 10 * config.hiddenSize + 4 * config.intermediateSize;
  const scores = 2 * sequences * config.numAttentionHeads * length * length;
  return config.numHiddenLayers * (tokens * perLayerToken + scores) * FLOAT32_BYTES;
}

/**
 * A forward without backward frees each layer's values once the next layer has them: one layer's worth
 * (the live set of activationBytes for a single layer), with the residual stream.
 */
export function forwardWorkingBytes(config: Qwen2Config, sequences: number, length: number): number {
  const one = { ...config, numHiddenLayers: 1 };
  return activationBytes(one, sequences, length) + sequences * length * config.hiddenSize * FLOAT32_BYTES;
}

/**
 * The [tokens, vocab] block of the log-probs: the logits, their log-softmax and (when training) its
 * gradient — 3 blocks — over `chunkTokens` tokens at a time when chunked by tokens, over `vocabWidth`
 * words at a time when sliced by the vocabulary (neither: all of it at once).
 */
export function logitsBlockBytes(
  tokens: number,
  vocab: number,
  chunking: LogProbChunking,
  training: boolean,
): number {
  const rows = chunking.chunkTokens > 0 ? Math.min(tokens, chunking.chunkTokens) : tokens;
  const cols = chunking.vocabWidth > 0 ? Math.min(vocab, chunking.vocabWidth) : vocab;
  return (training ? 3 : 2) * rows * cols * FLOAT32_BYTES;
}

/** The KV cache of sampling: keys and values per layer, [rows, kvHeads, length, headDim]. */
export function kvCacheBytes(config: Qwen2Config, rows: number, length: number): number {
  return (
    2 * config.numHiddenLayers * rows * config.numKeyValueHeads * length * config.headDim * FLOAT32_BYTES
  );
}
