/**
 * The memory check of a run before it starts: the policy's architecture (built, read from `model.dir`, or
 * from a checkpoint's weights/config.json in the store) fed to core/config's memory plan, refused with the
 * numbers when a worker role cannot fit. `reasonloop plan` prints the same plan.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { checkMemoryPlan, memoryPlan } from '../core/config/memoryPlan.ts';
import type { RunConfig } from '../core/config/run.ts';
import { makeQwen2Config, parseQwen2ConfigJson, type Qwen2Config } from '../core/model/config.ts';
import { checkpointKey, openStore, S3ObjectStore } from '../core/store/index.ts';

/** The policy's architecture: built (`init`), read from `dir`, or from a checkpoint's weights/config.json. */
export async function runModelConfig(
  config: RunConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Qwen2Config> {
  const { init, dir, checkpoint } = config.model;
  if (init) return makeQwen2Config({ ...init.config, eosTokenId: init.config.eosTokenId });
  if (dir) {
    const file = join(dir, 'config.json');
    return parseQwen2ConfigJson(readFileSync(file, 'utf8'), file);
  }
  const store = openStore(config.store.url, env);
  try {
    const key = checkpointKey(checkpoint!.runId, checkpoint!.step, 'weights/config.json');
    return parseQwen2ConfigJson(Buffer.from(await store.get(key)).toString('utf8'), key);
  } finally {
    if (store instanceof S3ObjectStore) store.destroy();
  }
}

/** Refuses a run whose rollout, scorer or trainer estimate exceeds `memoryBytes` (default: this machine's). */
export async function checkRunMemory(
  config: RunConfig,
  env: NodeJS.ProcessEnv = process.env,
  memoryBytes = totalmem(),
): Promise<void> {
  checkMemoryPlan(memoryPlan(await runModelConfig(config, env), config), memoryBytes);
}
