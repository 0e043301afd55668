/**
 * The `bench-25m` rollout workload of DESIGN.md §5, materialised once as an HF model directory (random
 * weights from our own seeded init) plus a prompts file, in a cache folder that all three sides read, so
 * PyTorch, transformers.js and we sample from exactly the same weights and prompts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { makeQwen2Config, type Qwen2Config } from '../../core/model/config.ts';
import { loadModelDir, writeModelDir, CONFIG_FILE, WEIGHTS_FILE } from '../../core/model/modelDir.ts';
import { initQwen2Weights, qwen2ParameterCount } from '../../core/model/parameters.ts';
import { uniformAt } from '../../core/random.ts';

/** DESIGN.md §5 `bench-25m`: 25.3M parameters, tied embeddings, GQA 8 query heads on 2 kv heads. */
export const BENCH_25M = {
  vocabSize: 16384,
  hiddenSize: 512,
  intermediateSize: 1408,
  numHiddenLayers: 6,
  numAttentionHeads: 8,
  numKeyValueHeads: 2,
  tieWordEmbeddings: true,
  ropeTheta: 10000,
} as const;

/**
 * A ≈0.5B-parameter Qwen2 (the shapes of Qwen2.5-0.5B: 494M parameters, tied embeddings, GQA 14 query
 * heads on 2 kv heads) for the GPU benchmark; random weights like bench-25m, since no hub is reachable.
 */
export const QWEN2_0_5B = {
  vocabSize: 151936,
  hiddenSize: 896,
  intermediateSize: 4864,
  numHiddenLayers: 24,
  numAttentionHeads: 14,
  numKeyValueHeads: 2,
  tieWordEmbeddings: true,
  ropeTheta: 1000000,
} as const;

/** The rollout bench's models, by the name `--model` takes. */
export const ROLLOUT_MODELS = { 'bench-25m': BENCH_25M, 'qwen2-0.5b': QWEN2_0_5B } as const;
export type RolloutModelName = keyof typeof ROLLOUT_MODELS;

/** DESIGN.md §5: random weights, seed 0. */
export const WEIGHTS_SEED = 0;

/** DESIGN.md §5 rollout: batch 32, 16-token prompts, exactly 128 new tokens, T = 1, no top-k / top-p. */
export const ROLLOUT = {
  batch: 32,
  promptLength: 16,
  maxNewTokens: 128,
  temperature: 1,
} as const;

/** Seed of the fixed random prompt ids (any fixed value: the prompts only need to be the same everywhere). */
const PROMPT_SEED = 1234;

/** Bump when the directory's contents change meaning, so stale caches are rebuilt. */
const WORKLOAD_VERSION = 1;
const MARKER_FILE = 'bench-workload.json';
export const PROMPTS_FILE = 'prompts.json';

export interface RolloutWorkload {
  name: RolloutModelName;
  /** The HF model directory (config.json, model.safetensors, generation_config.json). */
  dir: string;
  config: Qwen2Config;
  weights: Map<string, Float32Array>;
  /** ROLLOUT.batch prompts of ROLLOUT.promptLength ids each. */
  prompts: number[][];
  parameterCount: number;
}

/** `${REASONLOOP_CACHE:-~/.cache/reasonloop}`: where benches keep what is expensive to rebuild. */
export function cacheRoot(): string {
  return process.env.REASONLOOP_CACHE ?? join(homedir(), '.cache', 'reasonloop');
}

export function bench25mConfig(): Qwen2Config {
  return rolloutModelConfig('bench-25m');
}

export function rolloutModelConfig(name: RolloutModelName): Qwen2Config {
  // No eos token: every row must run the full 128 new tokens on every side.
  return makeQwen2Config({ ...ROLLOUT_MODELS[name], eosTokenId: [], bosTokenId: null });
}

/** Fixed prompt ids, uniform over the vocabulary, from the counter-based RNG (same on every machine). */
export function benchPrompts(vocabSize: number): number[][] {
  return Array.from({ length: ROLLOUT.batch }, (_, b) =>
    Array.from({ length: ROLLOUT.promptLength }, (_, t) =>
      Math.floor(uniformAt(PROMPT_SEED, 0, b, 0, t) * vocabSize),
    ),
  );
}

function markerFor(name: RolloutModelName, config: Qwen2Config): string {
  return JSON.stringify({
    version: WORKLOAD_VERSION,
    seed: WEIGHTS_SEED,
    arch: ROLLOUT_MODELS[name],
    rollout: ROLLOUT,
    config,
  });
}

/**
 * The workload directory under the cache, written on first use (or when its marker is stale) and
 * loaded back through our own HF loader, so the weights we time are the ones the references read.
 */
export function ensureRolloutWorkload(
  name: RolloutModelName = 'bench-25m',
  root = cacheRoot(),
): RolloutWorkload {
  const dir = join(root, 'bench', name);
  const config = rolloutModelConfig(name);
  const marker = markerFor(name, config);
  const markerPath = join(dir, MARKER_FILE);
  const fresh =
    existsSync(markerPath) &&
    readFileSync(markerPath, 'utf8') === marker &&
    existsSync(join(dir, CONFIG_FILE)) &&
    existsSync(join(dir, WEIGHTS_FILE)) &&
    existsSync(join(dir, PROMPTS_FILE));
  if (!fresh) {
    mkdirSync(dir, { recursive: true });
    writeModelDir(dir, { config, weights: initQwen2Weights(config, WEIGHTS_SEED) });
    writeFileSync(join(dir, PROMPTS_FILE), JSON.stringify(benchPrompts(config.vocabSize)) + '\n');
    writeFileSync(markerPath, marker);
  }
  const model = loadModelDir(dir);
  const prompts = JSON.parse(readFileSync(join(dir, PROMPTS_FILE), 'utf8')) as number[][];
  return {
    name,
    dir,
    config: model.config,
    weights: model.weights,
    prompts,
    parameterCount: qwen2ParameterCount(config),
  };
}
