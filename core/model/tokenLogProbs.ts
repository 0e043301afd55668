/**
 * Per-token log-probs and entropies of given sequences — what the trainer recomputes for the PPO ratio
 * and the KL/entropy terms. Position t scores token t+1; the logits are divided by the sampling
 * temperature first, so on-policy the ratio against the sampler's log-probs starts at exactly 1.
 * With `chunkTokens` the lm_head product, log-softmax and gather run per chunk of tokens
 * (op.chunkedTokenLogProbs), so the [tokens, vocab] logits never exist whole, in the forward or backward.
 */
import { Graph, op } from '../graph/index.ts';
import type { DType, Value } from '../graph/index.ts';
import type { Qwen2Config } from './config.ts';
import { declareQwen2Inputs, lmHeadWeight, linear, qwen2Hidden, upcastWeight } from './qwen2.ts';
import type { HalfWeightUse } from './qwen2.ts';
import { declareLoraInputs } from './loraGraph.ts';
import type { LoraSpec } from './lora.ts';
import type { WeightDtype } from './weightDtype.ts';

/** log softmax(logits)[target] along the last axis: [..., V] and [...] int64 → [...]. */
export function gatherLogProbs(logProbs: Value, targets: Value): Value {
  return op.squeeze(op.gatherElements(logProbs, op.unsqueeze(targets, [-1]), -1), [-1]);
}

/** Entropy −Σ p·log p of each row of log-probs. */
export function entropyFromLogProbs(logProbs: Value): Value {
  return op.neg(op.reduceSum(op.mul(op.exp(logProbs), logProbs), [-1], false));
}

export interface TokenLogProbsGraph {
  graph: Graph;
  params: Map<string, Value>;
  /** [batch, seq − 1]: log-prob of input_ids[:, t+1] given the prefix up to t. */
  logProbs: Value;
  /** [batch, seq − 1]: entropy of the next-token distribution at t. */
  entropy: Value;
}

/**
 * How many bytes of float32 logits one chunk may hold: 256 MiB. onnxruntime holds about seven [chunk, V]
 * blocks at the peak (recomputed logits, log-probs, probabilities, the logit gradient; bench:logprob-chunks
 * measured 1.8 GB over the rest), well under a 0.5B model's weights, gradients and AdamW state (≈8 GB);
 * and a chunk is still 441 tokens at Qwen2.5's vocabulary, whose [441, H] × [H, 151,936] product dwarfs a
 * Loop iteration's overhead (128-token chunks were 12% slower).
 */
export const LOG_PROB_CHUNK_BYTES = 256 * 2 ** 20;

/** Below this vocabulary size `auto` does not chunk: a micro-batch's whole logits are small. */
export const AUTO_CHUNK_MIN_VOCAB = 32_768;

/** A trainer's `logProbChunkTokens` setting: tokens per chunk, 0 = unchunked, or `auto`. */
export type LogProbChunkSetting = number | 'auto';

/**
 * Tokens per chunk for a setting (0 = the unchunked graph): `auto` chunks only vocabularies of at least
 * AUTO_CHUNK_MIN_VOCAB words, in chunks of LOG_PROB_CHUNK_BYTES of float32 logits.
 */
export function logProbChunkTokens(setting: LogProbChunkSetting | undefined, vocabSize: number): number {
  if (setting === undefined || setting === 'auto')
    return vocabSize < AUTO_CHUNK_MIN_VOCAB
      ? 0
      : Math.max(1, Math.floor(LOG_PROB_CHUNK_BYTES / (4 * vocabSize)));
  if (!Number.isInteger(setting) || setting < 0)
    throw new RangeError(`logProbChunkTokens must be a non-negative integer or "auto" (got ${setting})`);
  return setting;
}

export interface TokenLogProbsOptions {
  /** Tokens per chunk of the vocabulary-wide step; 0 or absent = the whole [tokens, vocab] block at once. */
  chunkTokens?: number;
  /** LoRA's alpha / r when `params` holds adapters (loraGraph.ts). */
  loraScaling?: number;
  /**
   * How float16 matrices are used (qwen2.ts linear). With "upcast" the LM head's float32 cast is one
   * [vocab, hidden] block that lives through the log-probs' forward and backward.
   */
  halfUse?: HalfWeightUse;
}

/** What the scoring graph takes besides the float32 weights (a LoRA trainer's view of its policy). */
export interface FrozenBaseOptions {
  /** LoRA adapters as inputs beside the weights (loraGraph.ts): each adapted Linear adds its branch. */
  lora?: LoraSpec;
  /** "float16": the matrices are half-precision inputs, each cast to float32 where used ("upcast"). */
  weightDtype?: WeightDtype;
}

/** The forward graph of per-token log-probs (inputs as buildQwen2Logits, plus a `temperature` scalar). */
export function buildTokenLogProbs(
  config: Qwen2Config,
  dtype: DType = 'float32',
  opts: Omit<TokenLogProbsOptions, 'loraScaling' | 'halfUse'> & FrozenBaseOptions = {},
): TokenLogProbsGraph {
  const graph = new Graph('qwen2TokenLogProbs');
  const weightDtype = opts.weightDtype ?? 'float32';
  const { inputs, params } = declareQwen2Inputs(graph, config, dtype, 'batch', 'seq', weightDtype);
  const loraScaling = opts.lora && declareLoraInputs(graph, config, opts.lora, params, dtype).scaling;
  const temperature = graph.input('temperature', dtype, []);
  const { logProbs, entropy } = tokenLogProbs(graph, inputs, params, config, temperature, {
    chunkTokens: opts.chunkTokens,
    loraScaling,
    halfUse: weightDtype === 'float16' ? 'upcast' : 'half',
  });
  graph.output(logProbs, 'logprobs');
  graph.output(entropy, 'entropy');
  return { graph, params, logProbs, entropy };
}

/** The same computation inside another graph (the train step builds its loss on it). */
export function tokenLogProbs(
  graph: Graph,
  inputs: Parameters<typeof qwen2Hidden>[0],
  params: Map<string, Value>,
  config: Qwen2Config,
  temperature: Value,
  opts: TokenLogProbsOptions = {},
): { logProbs: Value; entropy: Value } {
  const { hidden } = qwen2Hidden(inputs, params, config, undefined, opts.loraScaling, opts.halfUse);
  const scoring = op.slice(hidden, [0], [-1], [1]); // positions 0 … seq−2 predict tokens 1 … seq−1
  const nextTokens = () => op.slice(inputs.inputIds, [1], [op.SLICE_END], [1]);
  if (opts.chunkTokens)
    return graph.scope('logprobs', () =>
      op.chunkedTokenLogProbs(
        scoring,
        opts.halfUse === 'upcast'
          ? upcastWeight(lmHeadWeight(params, config), scoring.dtype)
          : lmHeadWeight(params, config),
        nextTokens(),
        temperature,
        opts.chunkTokens!,
      ),
    );
  const logits = op.div(linear(scoring, lmHeadWeight(params, config), undefined, opts.halfUse), temperature);
  const logProbs = graph.scope('logprobs', () => op.logSoftmax(logits, -1));
  const targets = nextTokens();
  return { logProbs: gatherLogProbs(logProbs, targets), entropy: entropyFromLogProbs(logProbs) };
}
