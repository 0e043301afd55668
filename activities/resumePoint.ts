/**
 * Where a run stands, for any training workflow (RL or SFT): the newest verified checkpoint, after writing
 * step 0 for a new run. Resuming a finished run, a run whose checkpoints all fail to verify, or one whose
 * checkpoint belongs to a different config is a permanent error, never a silent no-op.
 */
import { initialCursor } from '../core/data/cursor.ts';
import {
  latestVerifiedCheckpoint,
  writeCheckpoint,
  type CheckpointManifest,
  type CheckpointObjectSource,
  type ObjectStore,
  type RejectedCheckpoint,
} from '../core/store/index.ts';
import { FAILURE, permanent } from './failures.ts';
import { modelFiles, type ModelSource } from './runtime.ts';
import { withInitialStateFiles, withStateFiles } from './trainerState.ts';
import { withInitialParameters } from './initialParameters.ts';
import { initLoraWeights, type LoraSpec } from '../core/model/lora.ts';
import { loraInitialState } from './loraState.ts';

export interface TrainingIdentity extends ModelSource {
  runId: string;
  seed: number;
  steps: number;
}

/**
 * The step-0 checkpoint: the initial model (with LoRA: fresh adapters, seeded by the run seed, and a
 * reference to the model), fresh AdamW moments, the data cursor at its start.
 */
export async function writeInitialCheckpoint(
  store: ObjectStore,
  config: TrainingIdentity,
  hash: string,
  lora?: LoraSpec,
): Promise<void> {
  const commit = (objects: CheckpointObjectSource[]) =>
    writeCheckpoint(store, {
      runId: config.runId,
      step: 0,
      configHash: hash,
      dataCursor: { ...initialCursor(config.seed) },
      rng: { seed: config.seed },
      metrics: {},
      objects,
    });
  if (lora) {
    // The adapters and a reference to the model: the model's weights are not read.
    const base = await modelFiles(config);
    const state = loraInitialState(base.config, lora, initLoraWeights(base.config, lora, config.seed));
    const loraFiles = { spec: lora, base: { model: config.model, store: config.store } };
    await withStateFiles(base, state, commit, {}, loraFiles);
    return;
  }
  await withInitialParameters(config, (base, read) => withInitialStateFiles(base, read, commit));
}

/**
 * `stepsField` names the config field to raise in the "would do 0 steps" error (`run.steps`, `sft.steps`).
 * `beforeInitial` runs only for a new run, before anything is written: the checks that must pass first.
 */
export async function resumePoint(
  store: ObjectStore,
  config: TrainingIdentity,
  hash: string,
  stepsField: string,
  beforeInitial?: () => Promise<void>,
  lora?: LoraSpec,
): Promise<{ manifest: CheckpointManifest; rejected: RejectedCheckpoint[] }> {
  const { runId, steps } = config;
  let latest = await latestVerifiedCheckpoint(store, runId);
  if (!latest.manifest) {
    if (latest.rejected.length > 0) {
      const reasons = latest.rejected.map((r) => `step ${r.step}: ${r.reason}`).join('; ');
      throw permanent(FAILURE.resume, `run ${runId} has checkpoints but none verifies (${reasons})`);
    }
    await beforeInitial?.();
    await writeInitialCheckpoint(store, config, hash, lora);
    latest = await latestVerifiedCheckpoint(store, runId);
  }
  const manifest = latest.manifest!;
  if (manifest.configHash !== hash) {
    throw permanent(
      FAILURE.resume,
      `run ${runId}: checkpoint ${manifest.step} was written with a different config (hash ${manifest.configHash}, this config ${hash}); use a new run id`,
    );
  }
  if (manifest.step >= steps) {
    throw permanent(
      FAILURE.resume,
      `run ${runId} already has a checkpoint of step ${manifest.step} and ${stepsField} is ${steps}: starting it would do 0 steps (raise ${stepsField} to continue it)`,
    );
  }
  return { manifest, rejected: latest.rejected };
}
