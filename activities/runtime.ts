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
import type { Device, SessionConfig } from '../core/graph/index.ts';
import { makeQwen2Config, type Qwen2Config } from '../core/model/config.ts';
import { loadModelDir, loadModelDirFiles, type QwenModelDir } from '../core/model/modelDir.ts';
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
import { taskRuntime } from '../core/task/taskRuntime.ts';
import type { TaskRuntime } from '../core/task/types.ts';
import type { TaskConfig } from '../core/config/task.ts';
import { buildTinyTokenizer } from '../core/model/tinyTokenizer.ts';
import { QwenTokenizer } from '../core/model/tokenizer.ts';
import { mergeLoraWeights } from '../core/model/lora.ts';
import { ADAPTER_GROUP, isLoraCheckpoint, readAdapterGroup, readBaseReference } from './loraState.ts';
import { checkpointManifest } from './policyFiles.ts';

const stores = new Map<string, ObjectStore>();

/** The run's store, opened once per URL; credentials come from this worker's environment. */
export function runStore(config: { store: { url: string } }): ObjectStore {
  let store = stores.get(config.store.url);
  if (!store) {
    store = openStore(config.store.url);
    stores.set(config.store.url, store);
  }
  return store;
}

/** How an activity's sessions run: the config's thread count, on the device the activity runs on. */
export type ActivitySession = Required<Pick<SessionConfig, 'intraOpThreads' | 'device'>>;

export function sessionConfig(
  config: { orchestration: { intraOpThreads: number } },
  device: Device,
): ActivitySession {
  return { intraOpThreads: config.orchestration.intraOpThreads, device };
}

/** `runs/<runId>/rollouts/<step>/<name>`: rewritten with identical bytes when an attempt is retried. */
export function rolloutKey(runId: string, step: number, name: string): string {
  return `${runPrefix(runId)}rollouts/${padStep(step)}/${name}`;
}

/**
 * The step-0 model: built from `model.init`, read from `model.dir`, or restored from another run's
 * checkpoint (`model.checkpoint`); an unusable source is a config error.
 */
export async function initialModel(config: ModelSource): Promise<QwenModelDir> {
  const { init, dir, checkpoint } = config.model;
  if (init) {
    const files = initModelFiles(init);
    return { ...files, weights: initQwen2Weights(files.config, init.seed) };
  }
  if (checkpoint) {
    const store = runStore(config);
    const result = await verifyCheckpoint(store, checkpoint.runId, checkpoint.step);
    if ('problem' in result) {
      throw permanent(
        FAILURE.config,
        `model.checkpoint: step ${checkpoint.step} of run ${checkpoint.runId} in ${store.location}: ${result.problem}`,
      );
    }
    if (isLoraCheckpoint(result.manifest.objects)) return loraCheckpointModel(store, result.manifest);
    return withRestored(store, result.manifest, `${WEIGHTS_GROUP}/`, (d) => loadModelDir(d));
  }
  if (!existsSync(join(dir!, 'config.json'))) {
    throw permanent(FAILURE.config, `model.dir ${dir}: not an HF model directory (no config.json)`);
  }
  try {
    return loadModelDir(dir!);
  } catch (error) {
    throw permanent(FAILURE.config, `model.dir ${dir}: ${(error as Error).message}`);
  }
}

/** A `model.init` model's architecture and tokenizer: its weights are made apart, one tensor at a time if need be. */
export function initModelFiles(init: NonNullable<RunConfig['model']['init']>): Omit<QwenModelDir, 'weights'> {
  const files: Omit<QwenModelDir, 'weights'> = {
    config: makeQwen2Config({ ...init.config, eosTokenId: init.config.eosTokenId }),
  };
  if (init.tokenizer === 'tinyBytes') files.tokenizer = buildTinyTokenizer();
  return files;
}

/** What locates a model: its source and the store a `checkpoint` source lives in. */
export interface ModelSource {
  model: RunConfig['model'];
  store: { url: string };
}

const initialModels = new Map<string, Promise<Omit<QwenModelDir, 'weights'>>>();

/** The model's architecture and tokenizer files, read once per source; no weight is read. */
export function modelFiles(config: ModelSource): Promise<Omit<QwenModelDir, 'weights'>> {
  return memo(initialModels, JSON.stringify([config.model, config.store.url]), () =>
    initialModelFiles(config),
  );
}

/** As initialModel without the weights: a checkpoint source restores only its small files. */
async function initialModelFiles(config: ModelSource): Promise<Omit<QwenModelDir, 'weights'>> {
  const { init, dir, checkpoint } = config.model;
  if (init) return initModelFiles(init);
  if (dir) {
    if (!existsSync(join(dir, 'config.json')))
      throw permanent(FAILURE.config, `model.dir ${dir}: not an HF model directory (no config.json)`);
    try {
      return loadModelDirFiles(dir);
    } catch (error) {
      throw permanent(FAILURE.config, `model.dir ${dir}: ${(error as Error).message}`);
    }
  }
  const store = runStore(config);
  let manifest: CheckpointManifest;
  try {
    manifest = await checkpointManifest(store, checkpoint!.runId, checkpoint!.step);
  } catch (error) {
    throw permanent(FAILURE.config, `model.checkpoint: ${(error as Error).message}`);
  }
  if (isLoraCheckpoint(manifest.objects))
    return withRestored(store, smallObjects(manifest), `${ADAPTER_GROUP}/`, (d) =>
      initialModelFiles(readBaseReference(d)),
    );
  return withRestored(store, smallObjects(manifest), `${WEIGHTS_GROUP}/`, (d) => loadModelDirFiles(d));
}

/** The manifest without its safetensors objects: what describes a model, not its tensors. */
function smallObjects(manifest: CheckpointManifest): CheckpointManifest {
  return { ...manifest, objects: manifest.objects.filter((o) => !o.name.endsWith('.safetensors')) };
}

export async function modelConfig(config: ModelSource): Promise<Qwen2Config> {
  return (await modelFiles(config)).config;
}

/** The model's tokenizer, when its directory has one (every text task needs it). */
export async function modelTokenizer(config: ModelSource): Promise<QwenTokenizer | undefined> {
  const files = (await modelFiles(config)).tokenizer;
  return files && new QwenTokenizer(files);
}

const tasks = new Map<string, Promise<TaskRuntime>>();

/** The run's task (problems loaded, tokenizer ready), built once per process. */
export function runTask(config: ModelSource & { task: TaskConfig }): Promise<TaskRuntime> {
  return memo(tasks, JSON.stringify([config.task, config.model, config.store.url]), async () => {
    const model = await modelConfig(config);
    try {
      return await taskRuntime(config.task, await modelTokenizer(config), model.eosTokenId);
    } catch (error) {
      throw permanent(FAILURE.config, `task: ${(error as Error).message}`);
    }
  });
}

/**
 * A verified checkpoint's manifest; a missing or corrupt one is retryable (the store may be catching up).
 * `contents: false` checks the objects' sizes only, for a reader that hashes what it streams
 * (readCheckpointState).
 */
export async function verifiedManifest(
  store: ObjectStore,
  runId: string,
  step: number,
  options: { contents?: boolean } = {},
): Promise<CheckpointManifest> {
  const result = await verifyCheckpoint(store, runId, step, options);
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

/**
 * The policy weights of a checkpoint, as an HF model directory read back from the store; a LoRA
 * checkpoint's are its base's with W + s·B·A merged in.
 */
export async function checkpointWeights(
  store: ObjectStore,
  manifest: CheckpointManifest,
): Promise<Map<string, Float32Array>> {
  if (isLoraCheckpoint(manifest.objects)) return (await loraCheckpointModel(store, manifest)).weights;
  return withRestored(store, manifest, `${WEIGHTS_GROUP}/`, (dir) => loadModelDir(dir).weights);
}

/**
 * The frozen base of LoRA runs, by source. One entry: a worker serves one run's base at a time, and a
 * base is the size of the model.
 */
let baseModelSlot: { key: string; model: Promise<QwenModelDir> } | undefined;

export function loraBaseModel(source: ModelSource): Promise<QwenModelDir> {
  const key = JSON.stringify([source.model, source.store.url]);
  if (baseModelSlot?.key !== key) {
    const model = initialModel(source);
    model.catch(() => {
      if (baseModelSlot?.model === model) baseModelSlot = undefined;
    });
    baseModelSlot = { key, model };
  }
  return baseModelSlot.model;
}

/** A LoRA checkpoint as a model: the base it references, with its adapters merged into the weights. */
async function loraCheckpointModel(store: ObjectStore, manifest: CheckpointManifest): Promise<QwenModelDir> {
  // The restored directory is the adapter group itself (restoring strips the name prefix).
  return withRestored(store, manifest, `${ADAPTER_GROUP}/`, async (adapterDir) => {
    const base = await loraBaseModel(readBaseReference(adapterDir));
    const { spec, adapters } = readAdapterGroup(adapterDir, base.config);
    return { ...base, weights: mergeLoraWeights(base.config, spec, base.weights, adapters) };
  });
}

/** A checkpoint's policy as arrays (tests and tools that read weights; workers use checkpointPolicy). */
export async function readCheckpointWeights(
  store: ObjectStore,
  runId: string,
  step: number,
): Promise<Map<string, Float32Array>> {
  return checkpointWeights(store, await verifiedManifest(store, runId, step));
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
