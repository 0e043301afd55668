/**
 * checkpoint: commits the objects updatePolicy wrote for a step by writing the manifest last (so a
 * checkpoint exists only once complete), then applies retention. Idempotent: a retry rewrites the same
 * manifest.
 */
import {
  applyRetention,
  checkpointKey,
  encodeManifest,
  manifestKey,
  MANIFEST_FORMAT,
  signManifest,
} from '../core/store/index.ts';
import { writeStepMetrics } from '../core/metrics/history.ts';
import { runConfigOrFail } from './failures.ts';
import { runConfigHash } from './prepareRun.ts';
import { runStore } from './runtime.ts';
import type { CheckpointInput, CheckpointOutput } from './types.ts';

/** The weights file whose sha256 identifies a checkpoint's policy. */
export const WEIGHTS_OBJECT = 'weights/model.safetensors';

export async function checkpoint(input: CheckpointInput): Promise<CheckpointOutput> {
  const config = runConfigOrFail(input.config);
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
  await applyRetention(store, config.runId, {
    ...config.store.retention,
    referenceEvery: config.algorithm.kl.refreshReferenceEvery,
  });
  const weights = input.objects.find((o) => o.name === WEIGHTS_OBJECT);
  if (!weights) throw new Error(`step ${input.step}: no ${WEIGHTS_OBJECT} among the checkpoint objects`);
  return { step: input.step, weightsSha256: weights.sha256 };
}
