/**
 * A model is a Hugging Face directory: config.json, model.safetensors (or shards listed by
 * model.safetensors.index.json), generation_config.json, and optionally tokenizer.json +
 * tokenizer_config.json. We load exactly what transformers' `from_pretrained` loads and write directories
 * it loads back, so every checkpoint we produce is an HF model directory.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseQwen2ConfigJson, qwen2ConfigToJson, type Qwen2Config } from './config.ts';
import { LM_HEAD, qwen2Parameters } from './parameters.ts';
import { readSafetensors, type ReadSafetensorsOptions } from './safetensors.ts';
import {
  DEFAULT_MAX_SHARD_SIZE,
  safetensorsFiles,
  shardedSafetensorsFiles,
  writeShardedSafetensors,
  type ShardRead,
} from './safetensorsShards.ts';
import { bytesFile, type StreamedFile } from './safetensorsStream.ts';

export const CONFIG_FILE = 'config.json';
export const GENERATION_CONFIG_FILE = 'generation_config.json';
/** Weight files are `model.safetensors`, or `model-0000i-of-0000n.safetensors` with an index. */
export const WEIGHTS_STEM = 'model';
export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** Buffers some checkpoints carry that are not parameters (older transformers saved RoPE's inv_freq). */
const IGNORED_TENSOR_PATTERN = /\.rotary_emb\.inv_freq$/;

/** The two tokenizer files, parsed. */
export interface TokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

export interface QwenModelDir {
  config: Qwen2Config;
  /** Every parameter of `qwen2Parameters(config)`, by HF name, float32. */
  weights: Map<string, Float32Array>;
  /** config.json as found (keys we do not model, such as torch_dtype, are kept when written back). */
  rawConfig?: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
  tokenizer?: TokenizerFiles;
}

export interface LoadModelDirOptions {
  /** A missing tokenizer.json / tokenizer_config.json is an error instead of `tokenizer: undefined`. */
  requireTokenizer?: boolean;
}

function readJsonFile(path: string, file: string): Record<string, unknown> {
  if (!existsSync(path)) throw new Error(`${path}: missing (${file} is required)`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

/** Loads config, weights (validated against the config's parameter list) and the optional files. */
export function loadModelDir(dir: string, options: LoadModelDirOptions = {}): QwenModelDir {
  const model = loadModelDirFiles(dir, options);
  return { ...model, weights: loadWeights(dir, model.config) };
}

/** Everything of a model directory but the weights (a caller that maps them from disk reads no array). */
export function loadModelDirFiles(
  dir: string,
  options: LoadModelDirOptions = {},
): Omit<QwenModelDir, 'weights'> {
  const configPath = join(dir, CONFIG_FILE);
  if (!existsSync(configPath)) throw new Error(`${configPath}: missing (config.json is required)`);
  const configText = readFileSync(configPath, 'utf8');
  const config = parseQwen2ConfigJson(configText, configPath);
  const model: Omit<QwenModelDir, 'weights'> = { config, rawConfig: JSON.parse(configText) };
  const generationPath = join(dir, GENERATION_CONFIG_FILE);
  if (existsSync(generationPath))
    model.generationConfig = readJsonFile(generationPath, GENERATION_CONFIG_FILE);
  const tokenizer = loadTokenizerFiles(dir, options.requireTokenizer ?? false);
  if (tokenizer) model.tokenizer = tokenizer;
  return model;
}

/** Both tokenizer files, or neither (then an error only when required). */
export function loadTokenizerFiles(dir: string, required: boolean): TokenizerFiles | undefined {
  const jsonPath = join(dir, TOKENIZER_FILE);
  const configPath = join(dir, TOKENIZER_CONFIG_FILE);
  const hasJson = existsSync(jsonPath);
  const hasConfig = existsSync(configPath);
  if (!hasJson && !hasConfig && !required) return undefined;
  if (!hasJson) throw new Error(`${jsonPath}: missing (the tokenizer needs ${TOKENIZER_FILE})`);
  if (!hasConfig) throw new Error(`${configPath}: missing (the tokenizer needs ${TOKENIZER_CONFIG_FILE})`);
  return {
    tokenizerJson: readJsonFile(jsonPath, TOKENIZER_FILE),
    tokenizerConfig: readJsonFile(configPath, TOKENIZER_CONFIG_FILE),
  };
}

/** Reads every parameter the config needs, checking names and shapes; errors name the file and tensor. */
export function loadWeights(dir: string, config: Qwen2Config): Map<string, Float32Array> {
  const files: ShardRead[] = [];
  for (const [file, listed] of safetensorsFiles(dir, WEIGHTS_STEM)) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new Error(`${path}: missing (listed in ${WEIGHTS_INDEX_FILE})`);
    files.push({ file, listed, tensors: readSafetensors(path, weightReadOptions(config, file)) });
  }
  return collectWeights(config, files, (file) => join(dir, file));
}

/** A tied checkpoint may still carry lm_head.weight (a copy of the embedding); it is not a parameter. */
function skippableTensor(config: Qwen2Config, name: string): boolean {
  return IGNORED_TENSOR_PATTERN.test(name) || (config.tieWordEmbeddings && name === LM_HEAD);
}

/**
 * How a weight file is read: the parameters' shapes required, buffers that are not parameters skipped,
 * and an unknown tensor an error before its data is read.
 */
export function weightReadOptions(config: Qwen2Config, file: string): ReadSafetensorsOptions {
  const expectedShapes = new Map(qwen2Parameters(config).map((s) => [s.name, s.shape]));
  return {
    expectedShapes,
    select: (name) => {
      if (skippableTensor(config, name)) return false;
      if (!expectedShapes.has(name)) {
        throw new Error(
          `${file}: unexpected tensor ${name} (not a parameter of the Qwen2 model in config.json)`,
        );
      }
      return true;
    },
  };
}

/**
 * The weights of a model from its files as read (weightReadOptions), checked against each other, the index
 * and the config: each parameter exactly once, each where the index says. `pathOf` names a file in errors.
 */
export function collectWeights(
  config: Qwen2Config,
  files: readonly ShardRead[],
  pathOf: (file: string) => string,
): Map<string, Float32Array> {
  const weights = new Map<string, Float32Array>();
  const foundIn = new Map<string, string>();
  for (const { file, listed, tensors } of files) {
    for (const [name, data] of tensors) {
      if (foundIn.has(name)) throw new Error(`${file}: tensor ${name} is also in ${foundIn.get(name)}`);
      foundIn.set(name, file);
      weights.set(name, data);
    }
    for (const name of listed ?? []) {
      if (!skippableTensor(config, name) && !tensors.has(name)) {
        throw new Error(`${file}: tensor ${name} is missing (${WEIGHTS_INDEX_FILE} places it in this file)`);
      }
    }
  }
  for (const spec of qwen2Parameters(config)) {
    if (!weights.has(spec.name)) {
      const single = files.length === 1 && files[0]!.file === WEIGHTS_FILE && files[0]!.listed === null;
      throw new Error(
        `${pathOf(single ? WEIGHTS_FILE : WEIGHTS_INDEX_FILE)}: tensor ${spec.name} is missing`,
      );
    }
  }
  return weights;
}

/** generation_config.json as transformers derives it from a model config. */
export function defaultGenerationConfig(config: Qwen2Config): Record<string, unknown> {
  const eos = config.eosTokenId.length === 1 ? config.eosTokenId[0] : config.eosTokenId;
  return { bos_token_id: config.bosTokenId, eos_token_id: config.eosTokenId.length ? eos : null };
}

function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

export interface WriteModelDirOptions {
  /** As `save_pretrained`'s max_shard_size: bytes, or "500MB", "2GB" (decimal); default "5GB". */
  maxShardSize?: string | number;
}

/**
 * Writes an HF directory: config.json, model.safetensors (F32; shards and their index above maxShardSize),
 * generation_config.json and the tokenizer
 * files when the model has them. Every parameter of the config must be present with its shape.
 */
export function writeModelDir(dir: string, model: QwenModelDir, options: WriteModelDirOptions = {}): void {
  writeModelDirFrom(
    dir,
    model,
    (name) => {
      const data = model.weights.get(name);
      if (!data) throw new Error(`writeModelDir ${dir}: tensor ${name} is missing`);
      return data;
    },
    options,
  );
}

/**
 * As writeModelDir, each tensor asked of `read` when its turn to be written comes: a model that is never
 * whole in memory (a run's step 0 streamed from its source) is written one tensor at a time.
 */
export function writeModelDirFrom(
  dir: string,
  model: Omit<QwenModelDir, 'weights'>,
  read: (name: string) => Float32Array,
  options: WriteModelDirOptions = {},
): void {
  // Parameter order is HF's state-dict order, which decides where shards split.
  const tensors = qwen2Parameters(model.config).map((spec) => ({
    name: spec.name,
    shape: spec.shape,
    read: () => read(spec.name),
  }));
  mkdirSync(dir, { recursive: true });
  writeShardedSafetensors(dir, tensors, {
    stem: WEIGHTS_STEM,
    maxShardSize: options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE,
  });
  writeModelDirFiles(dir, model);
}

/** The files of an HF directory other than the weights: config.json, generation_config.json, tokenizer. */
export function writeModelDirFiles(dir: string, model: Omit<QwenModelDir, 'weights'>): void {
  mkdirSync(dir, { recursive: true });
  for (const { file, text } of modelDirTexts(model)) writeFileSync(join(dir, file), text);
}

/** The text of each file of an HF directory other than the weights, as transformers writes them. */
export function modelDirTexts(model: Omit<QwenModelDir, 'weights'>): { file: string; text: string }[] {
  const configJson = { ...(model.rawConfig ?? {}), ...qwen2ConfigToJson(model.config) };
  const sorted = Object.fromEntries(
    Object.keys(configJson)
      .sort()
      .map((k) => [k, configJson[k]]),
  );
  const texts = [
    { file: CONFIG_FILE, text: jsonText(sorted) },
    {
      file: GENERATION_CONFIG_FILE,
      text: jsonText(model.generationConfig ?? defaultGenerationConfig(model.config)),
    },
  ];
  if (model.tokenizer) {
    texts.push({ file: TOKENIZER_FILE, text: jsonText(model.tokenizer.tokenizerJson) });
    texts.push({ file: TOKENIZER_CONFIG_FILE, text: jsonText(model.tokenizer.tokenizerConfig) });
  }
  return texts;
}

/**
 * As writeModelDirFrom, as files made on demand (the weights read tensor by tensor as the stream reaches
 * them): what a caller streams to an object store instead of a folder. Sorted by file name.
 */
export function streamedModelDir(
  model: Omit<QwenModelDir, 'weights'>,
  read: (name: string) => Float32Array,
  options: WriteModelDirOptions = {},
): StreamedFile[] {
  const tensors = qwen2Parameters(model.config).map((spec) => ({
    name: spec.name,
    shape: spec.shape,
    read: () => read(spec.name),
  }));
  const weights = shardedSafetensorsFiles(tensors, {
    stem: WEIGHTS_STEM,
    maxShardSize: options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE,
  });
  const texts = modelDirTexts(model).map(({ file, text }) => bytesFile(file, Buffer.from(text, 'utf8')));
  return [...weights, ...texts].sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : 0));
}
