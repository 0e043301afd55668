/**
 * What a worker process keeps between activities: open stores, model configs, compiled ORT sessions and
 * the policy weights of the newest step it has seen. All of it is a cache: an activity that finds nothing
 * here rebuilds it from the config and the store, so any worker can run any attempt.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunConfig } from '../core/config/run.ts';
import type { SessionConfig } from '../core/graph/index.ts';
import { makeQwen2Config, type Qwen2Config } from '../core/model/config.ts';
import { loadModelDir, type QwenModelDir } from '../core/model/modelDir.ts';
import { initQwen2Weights } from '../core/model/parameters.ts';
import {
  openStore,
  padStep,
  restoreCheckpointObjects,
  runPrefix,
  verifyCheckpoint,
  type CheckpointManifest,
  type ObjectStore,
  WEIGHTS_GROUP,
} from '../core/store/index.ts';
import { FAILURE, permanent } from './failures.ts';

const stores = new Map<string, ObjectStore>();

/** The run's store, opened once per URL; credentials come from this worker's environment. */
export function runStore(config: RunConfig): ObjectStore {
  let store = stores.get(config.store.url);
  if (!store) {
    store = openStore(config.store.url);
    stores.set(config.store.url, store);
  }
  return store;
}

export function sessionConfig(config: RunConfig): SessionConfig {
  return { intraOpThreads: config.orchestration.intraOpThreads };
}

/** `runs/<runId>/rollouts/<step>/<name>`: rewritten with identical bytes when an attempt is retried. */
export function rolloutKey(runId: string, step: number, name: string): string {
  return `${runPrefix(runId)}rollouts/${padStep(step)}/${name}`;
}

/** The step-0 model: built from `model.init`, or read from `model.dir` (a config error when it is unusable). */
export function initialModel(config: RunConfig): QwenModelDir {
  const { init, dir } = config.model;
  if (init) {
    const qwen = makeQwen2Config({ ...init.config, eosTokenId: init.config.eosTokenId });
    return { config: qwen, weights: initQwen2Weights(qwen, init.seed) };
  }
  if (!existsSync(join(dir!, 'config.json'))) {
    throw permanent(FAILURE.config, `run.model.dir ${dir}: not an HF model directory (no config.json)`);
  }
  try {
    return loadModelDir(dir!);
  } catch (error) {
    throw permanent(FAILURE.config, `run.model.dir ${dir}: ${(error as Error).message}`);
  }
}

const modelConfigs = new Map<string, Qwen2Config>();

/** The model's architecture (cheap for `init`; read once per directory for `dir`). */
export function modelConfig(config: RunConfig): Qwen2Config {
  const id = JSON.stringify(config.model);
  let c = modelConfigs.get(id);
  if (!c) {
    c = config.model.init ? makeQwen2Config({ ...config.model.init.config }) : initialModel(config).config;
    modelConfigs.set(id, c);
  }
  return c;
}

/** A verified checkpoint's manifest; a missing or corrupt one is retryable (the store may be catching up). */
export async function verifiedManifest(
  store: ObjectStore,
  runId: string,
  step: number,
): Promise<CheckpointManifest> {
  const result = await verifyCheckpoint(store, runId, step);
  if ('problem' in result) {
    throw new Error(`checkpoint ${step} of run ${runId} in ${store.location}: ${result.problem}`);
  }
  return result.manifest;
}

/** Downloads (sha256-checked) the objects under `namePrefix` into a temp dir, hands it to `use`, then removes it. */
export async function withRestored<T>(
  store: ObjectStore,
  manifest: CheckpointManifest,
  namePrefix: string,
  use: (dir: string) => T | Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'reasonloop-restore-'));
  try {
    await restoreCheckpointObjects(store, manifest, namePrefix, dir);
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The policy weights of a checkpoint, as an HF model directory read back from the store. */
export async function checkpointWeights(
  store: ObjectStore,
  manifest: CheckpointManifest,
): Promise<Map<string, Float32Array>> {
  return withRestored(store, manifest, `${WEIGHTS_GROUP}/`, (dir) => loadModelDir(dir).weights);
}

/**
 * Weights by (store, run, step), least recently used dropped first: the policy of the step being sampled,
 * the one before it (shards of a retried step), and the step-0 reference the scorer uses every step.
 */
const WEIGHT_CACHE_ENTRIES = 3;
const weightCache = new Map<string, Promise<Map<string, Float32Array>>>();

export function cachedCheckpointWeights(
  store: ObjectStore,
  runId: string,
  step: number,
): Promise<Map<string, Float32Array>> {
  const id = `${store.location}|${runId}|${step}`;
  let hit = weightCache.get(id);
  if (hit) {
    weightCache.delete(id);
    weightCache.set(id, hit);
  } else {
    hit = verifiedManifest(store, runId, step).then((m) => checkpointWeights(store, m));
    hit.catch(() => weightCache.delete(id));
    weightCache.set(id, hit);
    while (weightCache.size > WEIGHT_CACHE_ENTRIES) weightCache.delete(weightCache.keys().next().value!);
  }
  return hit;
}

/** One compiled thing per key (a Generator, a PolicyUpdater…), built once per process. */
export function memo<T>(cache: Map<string, Promise<T>>, key: string, build: () => Promise<T>): Promise<T> {
  let hit = cache.get(key);
  if (!hit) {
    hit = build();
    hit.catch(() => cache.delete(key));
    cache.set(key, hit);
  }
  return hit;
}
