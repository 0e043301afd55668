/**
 * An HF model directory re-written for users: weights at a chosen precision (bfloat16, float16, float32)
 * and shard size, `torch_dtype` set to match, generation config and tokenizer files carried over. The
 * source is read tensor by tensor and each tensor is written as soon as it is read, so memory holds one
 * tensor (plus its half-precision chunk), never the model. What `reasonloop export` writes.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseQwen2ConfigJson, qwen2ConfigToJson, type Qwen2Config } from './config.ts';
import { loraModules, loraScaling, mergedWeight, type LoraSpec } from './lora.ts';
import { TORCH_DTYPE_NAMES, type StoredDtype } from './halfPrecision.ts';
import { CONFIG_FILE, defaultGenerationConfig, GENERATION_CONFIG_FILE } from './modelDir.ts';
import { qwen2Parameters } from './parameters.ts';
import { openParameterReaders } from './parameterReaders.ts';
import { DEFAULT_MAX_SHARD_SIZE, writeShardedSafetensors, type ShardPlan } from './safetensorsShards.ts';

/**
 * Tokenizer files transformers' `AutoTokenizer.save_pretrained` may write; whichever the source has are
 * copied byte for byte (chat_template.jinja is where transformers 5 keeps the template).
 */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'chat_template.jinja',
] as const;

export interface ExportOptions {
  dtype: StoredDtype;
  /** As `save_pretrained`'s max_shard_size ("2GB", decimal units, or bytes); default "5GB". */
  maxShardSize?: string | number;
  /**
   * LoRA adapters to merge (PEFT's `merge_and_unload`): each adapted matrix is written as W + s·B·A,
   * merged as it is read, so memory holds the matrix and its merge, never the model.
   */
  lora?: { spec: LoraSpec; adapters: ReadonlyMap<string, Float32Array> };
}

export interface ExportResult {
  plan: ShardPlan;
  /** The tokenizer files copied (names), empty when the source has none. */
  tokenizerFiles: string[];
}

/** config.json of the export: the source's keys, ours over them, the dtype named both ways transformers reads. */
export function exportConfigJson(
  sourceText: string,
  dtype: StoredDtype,
  file: string,
): Record<string, unknown> {
  const config = parseQwen2ConfigJson(sourceText, file);
  const torchDtype = TORCH_DTYPE_NAMES[dtype];
  const json: Record<string, unknown> = {
    ...(JSON.parse(sourceText) as Record<string, unknown>),
    ...qwen2ConfigToJson(config),
    dtype: torchDtype,
    torch_dtype: torchDtype,
  };
  return Object.fromEntries(
    Object.keys(json)
      .sort()
      .map((k) => [k, json[k]]),
  );
}

/** Reads a parameter by name; with adapters, an adapted matrix comes back merged. */
function mergingReader(
  config: Qwen2Config,
  lora: ExportOptions['lora'],
  read: (name: string) => Float32Array,
): (name: string) => Float32Array {
  if (!lora) return read;
  const modules = new Map(loraModules(config, lora.spec).map((m) => [m.base, m]));
  const scaling = loraScaling(lora.spec);
  return (name) => {
    const m = modules.get(name);
    if (!m) return read(name);
    const a = lora.adapters.get(m.a.name);
    const b = lora.adapters.get(m.b.name);
    if (!a || !b) throw new Error(`lora merge: adapters lack ${a ? m.b.name : m.a.name}`);
    return mergedWeight(read(name), a, b, { out: m.out, in: m.in, rank: lora.spec.rank }, scaling);
  };
}

/**
 * Writes `outDir` (created; files of an earlier save with the same names are replaced) from the model
 * directory `sourceDir`: config.json, sharded safetensors + index as transformers writes them,
 * generation_config.json, and the tokenizer files the source has.
 */
export function exportModelDir(sourceDir: string, outDir: string, options: ExportOptions): ExportResult {
  const configPath = join(sourceDir, CONFIG_FILE);
  if (!existsSync(configPath)) throw new Error(`${configPath}: missing (config.json is required)`);
  const configText = readFileSync(configPath, 'utf8');
  const config = parseQwen2ConfigJson(configText, configPath);
  const specs = qwen2Parameters(config);
  const source = openParameterReaders(sourceDir, config);
  mkdirSync(outDir, { recursive: true });
  let plan: ShardPlan;
  try {
    // State-dict order decides where shards split, as in save_pretrained.
    const read = mergingReader(config, options.lora, source.read);
    plan = writeShardedSafetensors(
      outDir,
      specs.map((s) => ({ name: s.name, shape: s.shape, read: () => read(s.name) })),
      { dtype: options.dtype, maxShardSize: options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE },
    );
  } finally {
    source.close();
  }
  const jsonText = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  writeFileSync(join(outDir, CONFIG_FILE), jsonText(exportConfigJson(configText, options.dtype, configPath)));
  const generationPath = join(sourceDir, GENERATION_CONFIG_FILE);
  if (existsSync(generationPath)) copyFileSync(generationPath, join(outDir, GENERATION_CONFIG_FILE));
  else writeFileSync(join(outDir, GENERATION_CONFIG_FILE), jsonText(defaultGenerationConfig(config)));
  const present = new Set(readdirSync(sourceDir));
  const tokenizerFiles = TOKENIZER_FILES.filter((f) => present.has(f));
  for (const f of tokenizerFiles) copyFileSync(join(sourceDir, f), join(outDir, f));
  return { plan, tokenizerFiles };
}
