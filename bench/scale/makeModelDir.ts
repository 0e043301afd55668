/**
 * A real-shape model directory for memory and speed measurements: seeded random weights of a Qwen2 config
 * written as sharded safetensors (transformers' layout and index), config.json, generation_config.json and
 * the byte-level tiny tokenizer. Tensors are made and written one at a time, so making a 2 GB model holds
 * one tensor (≤ 545 MB for Qwen2.5's embedding) rather than the model.
 *
 *   node --import tsx bench/scale/makeModelDir.ts --shape qwen2.5-0.5b --out .reasonloop/models/q05 [--seed 0]
 *     [--max-shard-size 1GB]
 *
 * A directory already made with the same shape, seed and shard size is kept (a marker file records them).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeQwen2Config, type Qwen2Config } from '../../core/model/config.ts';
import { writeModelDirFiles } from '../../core/model/modelDir.ts';
import { initQwen2Tensor, qwen2Parameters } from '../../core/model/parameters.ts';
import { SafetensorsWriter } from '../../core/model/safetensors.ts';
import { planShards, shardIndexFileName, shardIndexJson } from '../../core/model/safetensorsShards.ts';
import { buildTinyTokenizer } from '../../core/model/tinyTokenizer.ts';

/** Qwen2.5's published architectures (their config.json), random weights in place of the trained ones. */
export const MODEL_SHAPES: Record<string, () => Qwen2Config> = {
  'qwen2.5-0.5b': () =>
    makeQwen2Config({
      vocabSize: 151936,
      hiddenSize: 896,
      intermediateSize: 4864,
      numHiddenLayers: 24,
      numAttentionHeads: 14,
      numKeyValueHeads: 2,
      maxPositionEmbeddings: 32768,
      ropeTheta: 1000000,
      rmsNormEps: 1e-6,
      tieWordEmbeddings: true,
      bosTokenId: 151643,
      eosTokenId: [151643],
    }),
  'qwen2.5-1.5b': () =>
    makeQwen2Config({
      vocabSize: 151936,
      hiddenSize: 1536,
      intermediateSize: 8960,
      numHiddenLayers: 28,
      numAttentionHeads: 12,
      numKeyValueHeads: 2,
      maxPositionEmbeddings: 131072,
      ropeTheta: 1000000,
      rmsNormEps: 1e-6,
      tieWordEmbeddings: true,
      bosTokenId: 151643,
      eosTokenId: [151643],
    }),
};

const MARKER = '.made-by-makeModelDir.json';

export interface MakeModelDirOptions {
  shape: string;
  out: string;
  seed?: number;
  maxShardSize?: string;
}

/** Makes (or keeps, when already made the same way) the directory; returns its config. */
export function makeModelDir(options: MakeModelDirOptions): Qwen2Config {
  const make = MODEL_SHAPES[options.shape];
  if (!make)
    throw new Error(`unknown shape ${options.shape} (one of ${Object.keys(MODEL_SHAPES).join(', ')})`);
  const config = make();
  const seed = options.seed ?? 0;
  const maxShardSize = options.maxShardSize ?? '1GB';
  const marker = JSON.stringify({ shape: options.shape, seed, maxShardSize, config });
  const markerPath = join(options.out, MARKER);
  if (existsSync(markerPath) && readFileSync(markerPath, 'utf8') === marker) return config;
  rmSync(options.out, { recursive: true, force: true });
  mkdirSync(options.out, { recursive: true });
  const specs = qwen2Parameters(config);
  const plan = planShards(specs, maxShardSize);
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (const { file, names } of plan.files) {
    const writer = SafetensorsWriter.create(
      join(options.out, file),
      names.map((n) => byName.get(n)!),
    );
    for (const name of writer.names) writer.write(name, initQwen2Tensor(config, byName.get(name)!, seed));
    writer.close();
  }
  if (plan.files.length > 1)
    writeFileSync(join(options.out, shardIndexFileName('model')), shardIndexJson(plan));
  writeModelDirFiles(options.out, { config, tokenizer: buildTinyTokenizer() });
  writeFileSync(markerPath, marker);
  return config;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      shape: { type: 'string', default: 'qwen2.5-0.5b' },
      out: { type: 'string' },
      seed: { type: 'string', default: '0' },
      'max-shard-size': { type: 'string', default: '1GB' },
    },
  });
  if (!values.out) throw new Error('--out DIR is required');
  const t0 = performance.now();
  makeModelDir({
    shape: values.shape!,
    out: values.out,
    seed: Number(values.seed),
    maxShardSize: values['max-shard-size']!,
  });
  console.error(`made ${values.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
