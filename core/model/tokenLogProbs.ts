/**
 * Per-token log-probs and entropies of given sequences — what the trainer recomputes for the PPO ratio
 * and the KL/entropy terms. Position t scores token t+1; the logits are divided by the sampling
 * temperature first, so on-policy the ratio against the sampler's log-probs starts at 1 (to float32
 * rounding: the sampler computes in float64).
 * With `vocabWidth` the lm_head product, log-softmax and gather run per slice of the vocabulary
 * (op.vocabChunkedTokenLogProbs), with `chunkTokens` per chunk of tokens (op.chunkedTokenLogProbs): either
 * way the [tokens, vocab] logits never exist whole, in the forward or backward.
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
 * How many bytes of float32 logits one token chunk may hold: 256 MiB. onnxruntime holds about seven
 * [chunk, V] blocks at the peak (recomputed logits, log-probs, probabilities, the logit gradient;
 * bench:logprob-chunks measured 1.8 GB over the rest), well under a 0.5B model's weights, gradients and
 * AdamW state (≈8 GB); and a chunk is still 441 tokens at Qwen2.5's vocabulary, whose [441, H] × [H, 151,936]
 * product dwarfs a Loop iteration's overhead (128-token chunks were 12% slower).
 */
export const LOG_PROB_CHUNK_BYTES = 256 * 2 ** 20;

/** Below this vocabulary size `auto` does not chunk: a micro-batch's whole logits are small. */
export const AUTO_CHUNK_MIN_VOCAB = 32_768;

/**
 * The widest vocabulary slice `auto` takes: a micro-batch of up to 1,747 tokens then keeps each [tokens,
 * width] float32 block under glibc's 32 MiB mmap threshold, so the blocks are reused from the heap rather
 * than mapped and zeroed afresh. At Qwen2.5-0.5B's micro-batch (1,184 tokens) 4,748-word slices ran a
 * micro-batch in 35.4 s against 38.3 s (2,374 words), 38.8 s (9,496: above the threshold) and 39.0 s for
 * 441-token chunks (docs/benchmarks.md, "The vocabulary in slices").
 */
export const VOCAB_SLICE_MAX_WORDS = 4_800;

/** The narrowest slice worth a Loop iteration; a vocabulary with no divisor in range is chunked by tokens. */
export const VOCAB_SLICE_MIN_WORDS = 1_024;

/** A trainer's `logProbChunkTokens` setting: tokens per chunk, 0 = unchunked, or `auto`. */
export type LogProbChunkSetting = number | 'auto';

/** How the vocabulary-wide step is split: at most one of the two is non-zero; both 0 = the whole block. */
export interface LogProbChunking {
  /** Tokens per chunk (op.chunkedTokenLogProbs). */
  chunkTokens: number;
  /** Words per slice of the vocabulary, a divisor of it (op.vocabChunkedTokenLogProbs). */
  vocabWidth: number;
}

/** The largest divisor of `vocab` in [VOCAB_SLICE_MIN_WORDS, VOCAB_SLICE_MAX_WORDS], or 0. */
export function vocabSliceWidth(vocab: number): number {
  for (let w = Math.min(vocab, VOCAB_SLICE_MAX_WORDS); w >= VOCAB_SLICE_MIN_WORDS; w--)
    if (vocab % w === 0) return w;
  return 0;
}

/**
 * The split for a setting: a number is tokens per chunk (0 = none); `auto` leaves vocabularies under
 * AUTO_CHUNK_MIN_VOCAB words whole, slices larger ones by vocabSliceWidth, and chunks by tokens (256 MiB
 * of float32 logits per chunk) when the vocabulary has no divisor in range.
 */
export function logProbChunking(
  setting: LogProbChunkSetting | undefined,
  vocabSize: number,
): LogProbChunking {
  if (setting === undefined || setting === 'auto') {
    if (vocabSize < AUTO_CHUNK_MIN_VOCAB) return { chunkTokens: 0, vocabWidth: 0 };
    const vocabWidth = vocabSliceWidth(vocabSize);
    if (vocabWidth > 0) return { chunkTokens: 0, vocabWidth };
    return { chunkTokens: Math.max(1, Math.floor(LOG_PROB_CHUNK_BYTES / (4 * vocabSize))), vocabWidth: 0 };
  }
  if (!Number.isInteger(setting) || setting < 0)
    throw new RangeError(`logProbChunkTokens must be a non-negative integer or "auto" (got ${setting})`);
  return { chunkTokens: setting, vocabWidth: 0 };
}

export interface TokenLogProbsOptions extends Partial<LogProbChunking> {
  /** LoRA's alpha / r when `params` holds adapters (loraGraph.ts). */
  loraScaling?: number;
  /**
   * How float16 matrices are used (qwen2.ts linear). With "upcast" the LM head's float32 cast is one
   * [vocab, hidden] block that lives through the log-probs' forward and backward.
   */
  halfUse?: HalfWeightUse;
  /**
   * The caller feeds T = 1 only: the unchunked path then skips dividing the [tokens, vocab] logits by it
   * (z/1 is z, bit for bit), a pass in the forward and one in the backward.
   */
  unitTemperature?: boolean;
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
    vocabWidth: opts.vocabWidth,
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
  const head = () =>
    opts.halfUse === 'upcast'
      ? upcastWeight(lmHeadWeight(params, config), scoring.dtype)
      : lmHeadWeight(params, config);
  if (opts.vocabWidth)
    return graph.scope('logprobs', () =>
      op.vocabChunkedTokenLogProbs(scoring, head(), nextTokens(), temperature, opts.vocabWidth!),
    );
  if (opts.chunkTokens)
    return graph.scope('logprobs', () =>
      op.chunkedTokenLogProbs(scoring, head(), nextTokens(), temperature, opts.chunkTokens!),
    );
  // The logits divided, as the sampler does, not h/T as the chunked paths do: the same bits at T = 1
  // only, and runs recorded before stay reproducible at other temperatures.
  const product = linear(scoring, lmHeadWeight(params, config), undefined, opts.halfUse);
  const logits = opts.unitTemperature ? product : op.div(product, temperature);
  const logProbs = graph.scope('logprobs', () => op.logSoftmax(logits, -1));
  const targets = nextTokens();
  return { logProbs: gatherLogProbs(logProbs, targets), entropy: entropyFromLogProbs(logProbs) };
}
