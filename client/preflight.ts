/**
 * Checks a run config before any workflow starts (`reasonloop train`) and again in prepareRun: the schema,
 * the model directory, and that the store answers. Every error names the field it is about.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRunConfig, type RunConfig } from '../core/config/run.ts';
import { parseQwen2ConfigJson } from '../core/model/config.ts';
import { openStore, S3ObjectStore, type ObjectStore } from '../core/store/index.ts';

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

export function checkModelDir(config: RunConfig): void {
  const dir = config.model.dir;
  if (dir === undefined) return;
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new Error(`run.model.dir ${dir}: not an HF model directory (no config.json)`);
  let vocabSize: number;
  try {
    vocabSize = parseQwen2ConfigJson(readFileSync(file, 'utf8'), file).vocabSize;
  } catch (error) {
    throw new Error(`run.model.dir ${dir}: ${(error as Error).message}`, { cause: error });
  }
  if (config.task.kind === 'math') {
    if (!existsSync(join(dir, 'tokenizer.json'))) {
      throw new Error(`run.model.dir ${dir}: a math task needs the model's tokenizer (no tokenizer.json)`);
    }
    return;
  }
  const needed = Math.max(config.task.separatorToken, config.task.eosToken) + 1;
  if (vocabSize < needed) {
    throw new Error(
      `run.model.dir ${dir}: vocab_size ${vocabSize} does not cover the task's tokens (at least ${needed})`,
    );
  }
}

/** The parsed config when the run can start; throws RunConfigError or an Error naming the field. */
export async function preflightRun(raw: unknown, env: NodeJS.ProcessEnv = process.env): Promise<RunConfig> {
  const config = parseRunConfig(raw);
  checkModelDir(config);
  let store: ObjectStore;
  try {
    store = openStore(config.store.url, env);
  } catch (error) {
    throw new Error(`run.store.url: ${(error as Error).message}`, { cause: error });
  }
  try {
    await checkStoreReachable(store);
  } catch (error) {
    throw new Error(`run.store.url ${config.store.url}: ${(error as Error).message}`, { cause: error });
  } finally {
    if (store instanceof S3ObjectStore) store.destroy();
  }
  return config;
}
