/**
 * Checks a config before any workflow starts (`reasonloop train|sft|eval|filter`): the schema, the model
 * directory, and that the store answers. Every error names the field it is about. The prepare activities
 * run the model-directory and store checks again, for runs started with `temporal workflow start`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDifficultyFilterConfig, type DifficultyFilterConfig } from '../core/config/difficultyFilter.ts';
import { parseEvaluationConfig, type EvaluationConfig } from '../core/config/evaluation.ts';
import { parseRunConfig, type RunConfig } from '../core/config/run.ts';
import { parseSftConfig, type SftConfig } from '../core/config/sft.ts';
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

/**
 * Opens the store a config names and lists it, so an unreachable store fails before a workflow starts;
 * errors name the field (`sft.store.url`).
 */
export async function checkConfigStore(
  url: string,
  field: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  let store: ObjectStore;
  try {
    store = openStore(url, env);
  } catch (error) {
    throw new Error(`${field}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await checkStoreReachable(store);
  } catch (error) {
    throw new Error(`${field} ${url}: ${(error as Error).message}`, { cause: error });
  } finally {
    if (store instanceof S3ObjectStore) store.destroy();
  }
}

/** `field` (`sft.model.dir`) names a directory with an HF config.json; returns that file's path. */
function requireHfModelDir(dir: string, field: string): string {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new Error(`${field} ${dir}: not an HF model directory (no config.json)`);
  return file;
}

export function checkModelDir(config: RunConfig): void {
  const dir = config.model.dir;
  if (dir === undefined) return;
  const file = requireHfModelDir(dir, 'run.model.dir');
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
  await checkConfigStore(config.store.url, 'run.store.url', env);
  return config;
}

/** The parsed config when the SFT run can start: schema, model directory, store reachable. */
export async function preflightSft(raw: unknown, env: NodeJS.ProcessEnv = process.env): Promise<SftConfig> {
  const config = parseSftConfig(raw);
  if (config.model.dir !== undefined) requireHfModelDir(config.model.dir, 'sft.model.dir');
  await checkConfigStore(config.store.url, 'sft.store.url', env);
  return config;
}

/** The parsed config when the evaluation can start: schema, model directory, store reachable. */
export async function preflightEvaluation(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
): Promise<EvaluationConfig> {
  const config = parseEvaluationConfig(raw);
  if (config.model.dir !== undefined) requireHfModelDir(config.model.dir, 'evaluation.model.dir');
  await checkConfigStore(config.store.url, 'evaluation.store.url', env);
  return config;
}

/** The parsed config when the filter can start: schema, model directory, store reachable. */
export async function preflightFilter(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DifficultyFilterConfig> {
  const config = parseDifficultyFilterConfig(raw);
  if (config.model.dir !== undefined) requireHfModelDir(config.model.dir, 'filter.model.dir');
  await checkConfigStore(config.store.url, 'filter.store.url', env);
  return config;
}
