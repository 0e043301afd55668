/**
 * Checks an HF model directory without loading its weights: config.json parses, every safetensors header
 * holds exactly the tensors the config's architecture needs with the right shapes and a readable dtype,
 * and the tokenizer files (when present or required) parse and fit the vocabulary. Reads only headers and
 * small JSON files, so it is cheap at any model size — a preflight, before anything starts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseQwen2ConfigJson, type Qwen2Config } from './config.ts';
import { CONFIG_FILE, TOKENIZER_FILE } from './modelDir.ts';
import { LM_HEAD, qwen2Parameters } from './parameters.ts';
import { readSafetensorsHeader, sameShape } from './safetensors.ts';
import type { SafetensorsDtype } from './safetensorsHeader.ts';
import { safetensorsFiles } from './safetensorsShards.ts';
import { QwenTokenizer } from './tokenizer.ts';

/** The dtypes the weight reader converts (core/model/safetensors.ts). */
const READABLE_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16'];
/** Tensors a checkpoint may carry that are not parameters (rotary caches some exporters save). */
const IGNORED_TENSOR = /\.rotary_emb\.inv_freq$/;

export interface CheckedModelDir {
  config: Qwen2Config;
  /** The tokenizer, when the directory has one. */
  tokenizer?: QwenTokenizer;
}

/** The config.json of `dir`, parsed and validated; errors name the file. */
export function readModelConfig(dir: string): Qwen2Config {
  const file = join(dir, CONFIG_FILE);
  if (!existsSync(file)) throw new Error(`not an HF model directory (no ${CONFIG_FILE})`);
  return parseQwen2ConfigJson(readFileSync(file, 'utf8'), file);
}

/** Every weight file's header against the parameters `config` needs; errors name the file and tensor. */
export function checkWeightHeaders(dir: string, config: Qwen2Config): void {
  const expected = new Map(qwen2Parameters(config).map((s) => [s.name, s.shape]));
  const found = new Set<string>();
  for (const [file, listed] of safetensorsFiles(dir)) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new Error(`${path}: missing (listed in the weights index)`);
    const { tensors } = readSafetensorsHeader(path);
    for (const [name, info] of tensors) {
      if (IGNORED_TENSOR.test(name) || (config.tieWordEmbeddings && name === LM_HEAD)) continue;
      const shape = expected.get(name);
      if (shape === undefined) {
        throw new Error(
          `${path}: unexpected tensor ${name} (not a parameter of the model in ${CONFIG_FILE})`,
        );
      }
      if (!sameShape(info.shape, shape)) {
        throw new Error(`${path}: tensor ${name} has shape [${info.shape}], expected [${shape}]`);
      }
      if (!READABLE_DTYPES.includes(info.dtype as SafetensorsDtype)) {
        throw new Error(
          `${path}: tensor ${name} has dtype ${info.dtype} (readable: ${READABLE_DTYPES.join(', ')})`,
        );
      }
      found.add(name);
    }
    for (const name of listed ?? []) {
      if (!tensors.has(name))
        throw new Error(`${path}: tensor ${name} is missing (the index places it here)`);
    }
  }
  for (const name of expected.keys()) {
    if (!found.has(name)) throw new Error(`${dir}: the weights lack tensor ${name}`);
  }
}

/** The tokenizer of `dir` (required or optional); its ids must be below the config's vocab_size. */
export function checkTokenizer(
  dir: string,
  config: Qwen2Config,
  required: boolean,
): QwenTokenizer | undefined {
  const present = existsSync(join(dir, TOKENIZER_FILE));
  if (!present && !required) return undefined;
  if (!present) throw new Error(`${dir}: the task needs the model's tokenizer (no ${TOKENIZER_FILE})`);
  const tokenizer = QwenTokenizer.fromDir(dir);
  if (tokenizer.maxTokenId >= config.vocabSize) {
    throw new Error(
      `${join(dir, TOKENIZER_FILE)}: token id ${tokenizer.maxTokenId} does not fit vocab_size ${config.vocabSize} of ${CONFIG_FILE}`,
    );
  }
  return tokenizer;
}

/** config.json, weight headers and tokenizer of `dir`: what loading it would refuse, found before it starts. */
export function checkModelDirFiles(
  dir: string,
  options: { requireTokenizer?: boolean } = {},
): CheckedModelDir {
  const config = readModelConfig(dir);
  checkWeightHeaders(dir, config);
  const tokenizer = checkTokenizer(dir, config, options.requireTokenizer ?? false);
  return { config, ...(tokenizer ? { tokenizer } : {}) };
}
