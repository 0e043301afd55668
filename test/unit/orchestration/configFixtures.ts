/**
 * Config pieces the config and activity tests share: tiny random Qwen2s (over reverseDigits' 12 tokens, or
 * with the byte tokenizer) and a synthetic math task.
 */
import { TINY_VOCAB_SIZE } from '../../../core/model/tinyTokenizer.ts';

/** `model.init.config` of a tiny Qwen2 over a 12-token vocabulary (reverseDigits' digits and markers). */
export const TINY_QWEN2 = {
  vocabSize: 12,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
};

/** TINY_QWEN2 as the reverseDigits runs of the activity tests use it: 16 positions, EOS token 11. */
export const TINY_DIGITS_QWEN2 = { ...TINY_QWEN2, maxPositionEmbeddings: 16, eosTokenId: [11] };

/** `model.init` of a tiny Qwen2 with the byte-level tokenizer (what a text task needs). */
export const TINY_TEXT_INIT = {
  seed: 0,
  config: {
    vocabSize: TINY_VOCAB_SIZE,
    hiddenSize: 16,
    intermediateSize: 32,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
  },
  tokenizer: 'tinyBytes',
};

/** 2-digit sums, 50 synthetic problems. */
export const SYNTHETIC_ADDITION = {
  kind: 'math',
  data: {
    source: 'synthetic',
    task: { kind: 'arithmetic', knobs: { digits: 2, terms: 2, ops: ['+'] } },
    size: 50,
  },
};
