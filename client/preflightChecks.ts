/**
 * The checks a preflight is made of, each naming the config field it is about: a model directory read
 * deeply (config, weight headers against the config's shapes, tokenizer parsed and fitting the vocabulary,
 * positions for the lengths asked), a task's data file (exists, first rows usable), and a store that is
 * written, read back and cleaned within a bounded time.
 */
import { randomUUID } from 'node:crypto';
import type { TaskConfig } from '../core/config/task.ts';
import { checkProblemFile } from '../core/data/dataCheck.ts';
import { checkModelDirFiles, type CheckedModelDir } from '../core/model/modelDirCheck.ts';
import { LocalFolderStore, openStore, S3ObjectStore, type ObjectStore } from '../core/store/index.ts';
import { makeFolderPath } from '../core/store/folderPath.ts';

/** How long the store probe may take before the preflight gives up: an answer, not a hang. */
export const STORE_PROBE_TIMEOUT_MS = 15_000;

/** Lists the store; an S3 bucket that does not exist yet is created (first runs, test stacks). */
export async function checkStoreReachable(store: ObjectStore): Promise<void> {
  if (!(store instanceof S3ObjectStore)) {
    await store.list('runs/');
    return;
  }
  try {
    await store.checkReachable();
  } catch (error) {
    if (!/does not exist/.test((error as Error).message)) throw error;
    await store.ensureBucket();
    await store.checkReachable();
  }
}

/** `work` or an error after `ms`, whichever comes first. */
async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Writes a probe object, reads it back and deletes it: a store that lists but cannot be written (a
 * read-only mount, a path under /proc, a file where a folder should be) fails here, not at step 0.
 */
export async function probeStore(store: ObjectStore): Promise<void> {
  // Its own mkdir: the store's recursive one would spin forever on a path under /proc (core/store/folderPath.ts).
  if (store instanceof LocalFolderStore) await makeFolderPath(store.root);
  await checkStoreReachable(store);
  const key = `.reasonloop-probe-${randomUUID()}`;
  const bytes = new TextEncoder().encode(key);
  try {
    await store.put(key, bytes);
    const back = await store.get(key);
    if (Buffer.compare(Buffer.from(back), Buffer.from(bytes)) !== 0) {
      throw new Error('an object written could not be read back unchanged');
    }
  } finally {
    await store.delete(key).catch(() => undefined);
  }
}

/**
 * Opens the store a config names and probes it within STORE_PROBE_TIMEOUT_MS, so an unusable store fails
 * before a workflow starts; errors name the field (`sft.store.url`).
 */
export async function checkConfigStore(
  url: string,
  field: string,
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = STORE_PROBE_TIMEOUT_MS,
): Promise<void> {
  let store: ObjectStore;
  try {
    store = openStore(url, env);
  } catch (error) {
    throw new Error(`${field}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await within(timeoutMs, 'the store', probeStore(store));
  } catch (error) {
    throw new Error(`${field} ${url}: ${(error as Error).message}`, { cause: error });
  } finally {
    if (store instanceof S3ObjectStore) store.destroy();
  }
}

/** `field` (`sft.model.dir`) read deeply; errors are prefixed with the field and directory. */
export function checkModelDirField(dir: string, field: string, requireTokenizer: boolean): CheckedModelDir {
  try {
    return checkModelDirFiles(dir, { requireTokenizer });
  } catch (error) {
    throw new Error(`${field} ${dir}: ${(error as Error).message}`, { cause: error });
  }
}

/** The model must have positions for the prompt and `maxNewTokens` more (field: where maxNewTokens is set). */
export function checkPositions(
  model: CheckedModelDir,
  maxNewTokens: number,
  promptTokens: number,
  field: string,
): void {
  const needed = promptTokens + maxNewTokens;
  if (needed > model.config.maxPositionEmbeddings) {
    throw new Error(
      `${field} ${maxNewTokens}: the prompt (at least ${promptTokens} tokens) and ${maxNewTokens} new tokens need ${needed} positions, the model has max_position_embeddings ${model.config.maxPositionEmbeddings}`,
    );
  }
}

/** A task's data source read at its head (a local file; other sources are loaded by the workers). */
export async function checkTaskData(task: TaskConfig, field: string): Promise<void> {
  if (task.kind !== 'math' || task.data.source !== 'file') return;
  await checkProblemFile(task.data, `${field}.data.path`);
}
