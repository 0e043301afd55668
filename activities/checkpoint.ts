/**
 * checkpoint: commits the objects updatePolicy wrote for a step by writing the manifest last (so a
 * checkpoint exists only once complete), applies retention, and deletes the step's rollouts once the
 * checkpoint verifies (unless run.orchestration.keepRollouts). Idempotent: a retry rewrites the same
 * manifest and finds the rollouts already gone.
 */
import {
  applyRetention,
  checkpointKey,
  encodeManifest,
  manifestKey,
  MANIFEST_FORMAT,
  sha256Hex,
  signManifest,
  type ManifestObject,
  type ObjectStore,
} from '../core/store/index.ts';
import { writeStepMetrics } from '../core/metrics/history.ts';
import { eventFileKey, stepEventFile } from '../core/metrics/tensorboard.ts';
import { parseRunConfig } from '../core/config/run.ts';
import { parsedConfig } from './parsedConfig.ts';
import { runConfigHash } from './prepareRun.ts';
import { rolloutKey, runStore } from './runtime.ts';
import type { CheckpointInput, CheckpointOutput } from './types.ts';

/** The weights file whose sha256 identifies a checkpoint's policy (when not sharded). */
export const WEIGHTS_OBJECT = 'weights/model.safetensors';
const WEIGHTS_INDEX_OBJECT = 'weights/model.safetensors.index.json';
/** Sharded weights and their index all start with this. */
const WEIGHTS_SHARD_PREFIX = 'weights/model';
/** A LoRA run's policy beyond its (fixed) base: the PEFT adapter file (loraState.ts). */
const ADAPTER_OBJECT = 'adapter/adapter_model.safetensors';

export async function checkpoint(input: CheckpointInput): Promise<CheckpointOutput> {
  const started = performance.now();
  const config = parsedConfig(parseRunConfig, input.config);
  const store = runStore(config);
  for (const object of input.objects) {
    const key = checkpointKey(config.runId, input.step, object.name);
    const head = await store.head(key);
    // Retryable: the objects are rewritten by updatePolicy if this attempt's workflow re-runs it.
    if (!head || head.size !== object.size) {
      throw new Error(`${key}: expected ${object.size} bytes, found ${head ? head.size : 'none'}`);
    }
  }
  const manifest = signManifest({
    format: MANIFEST_FORMAT,
    runId: config.runId,
    step: input.step,
    configHash: runConfigHash(config),
    dataCursor: { ...input.cursor },
    rng: { seed: config.seed },
    metrics: input.metrics,
    objects: input.objects,
    prunedGroups: [],
  });
  // The metrics log first: a checkpoint that exists always has its metrics recorded.
  await writeStepMetrics(store, config.runId, input.step, [{ step: input.step, metrics: input.metrics }]);
  await store.put(manifestKey(config.runId, input.step), encodeManifest(manifest));
  // Retention verifies the newest checkpoint (every object's sha256) to anchor itself: that is the check
  // the rollouts wait for, so they are not hashed twice.
  const { newestVerifiedStep } = await applyRetention(store, config.runId, {
    ...config.store.retention,
    referenceEvery: config.algorithm.kl.refreshReferenceEvery,
  });
  if (!config.orchestration.keepRollouts && newestVerifiedStep === input.step) {
    await deleteStepRollouts(store, config.runId, input.step);
  }
  const sha256 = weightsSha256(input.objects);
  if (sha256 === undefined) {
    throw new Error(`step ${input.step}: no ${WEIGHTS_OBJECT} among the checkpoint objects`);
  }
  // The checkpoint's own time is known only now: the metrics log record is rewritten with it (the manifest,
  // already signed, keeps the metrics the step was trained with).
  const seconds = (performance.now() - started) / 1000;
  const metrics = { ...input.metrics, 'timing/checkpoint': seconds };
  await writeStepMetrics(store, config.runId, input.step, [{ step: input.step, metrics }]);
  // The same numbers for TensorBoard (`tensorboard --logdir` on the run's tensorboard/ folder).
  await store.put(
    eventFileKey(config.runId, input.step),
    stepEventFile(Date.now() / 1000, input.step, metrics),
  );
  return { step: input.step, weightsSha256: sha256, seconds };
}

/**
 * What identifies a checkpoint's policy: the sha256 of `weights/model.safetensors`, or for weights in
 * shards, the sha256 of each shard's name and sha256 (the index and every shard, in name order); for a
 * LoRA run, whose base is fixed by its config, the sha256 of the adapter file. Undefined when the
 * objects hold none of these.
 */
export function weightsSha256(objects: readonly ManifestObject[]): string | undefined {
  const single = objects.find((o) => o.name === WEIGHTS_OBJECT || o.name === ADAPTER_OBJECT);
  if (single) return single.sha256;
  if (!objects.some((o) => o.name === WEIGHTS_INDEX_OBJECT)) return undefined;
  const shards = objects
    .filter((o) => o.name.startsWith(WEIGHTS_SHARD_PREFIX))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sha256Hex(shards.map((o) => `${o.name} ${o.sha256}\n`).join(''));
}

/**
 * Deletes a step's rollouts (the sampleRollouts shards and the scoreRollouts rows). Once the step's
 * checkpoint verifies nothing reads them again: a resume samples the next step anew from the checkpoint,
 * and evaluation and reports read checkpoints and the metrics log. Deleting what is already gone is no
 * error (a retried checkpoint). Only this step: older rollouts a run kept (keepRollouts) stay kept.
 */
export async function deleteStepRollouts(store: ObjectStore, runId: string, step: number): Promise<number> {
  const keys = (await store.list(rolloutKey(runId, step, ''))).map((o) => o.key);
  await store.deleteMany(keys);
  return keys.length;
}
