/** Config pieces the config tests share: a tiny Qwen2 with the byte tokenizer, and a synthetic math task. */
import { TINY_VOCAB_SIZE } from '../../../core/model/tinyTokenizer.ts';

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
