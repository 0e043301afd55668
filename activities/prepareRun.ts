/**
 * prepareRun: validates the config, opens the store, and finds where the run stands — the newest verified
 * checkpoint (writing the step-0 checkpoint of a new run). Resuming a finished run, or one whose
 * checkpoint belongs to a different config, is a permanent error, never a silent no-op.
 */
import { runQueues } from '../client/gpuWorkers.ts';
import { checkModelDir } from '../client/preflight.ts';
import {
  baseHyperParameters,
  hyperParametersFromMetrics,
  type HyperParameters,
  type HyperParameterValues,
} from '../core/config/hyperParameters.ts';
import { parseRunConfig, runIdentity, type RunConfig } from '../core/config/run.ts';
import { heldOutTask } from '../core/config/task.ts';
import { routedTaskQueues } from '../core/config/taskQueues.ts';
import { configHash } from '../core/store/index.ts';
import { weightsSha256 } from './checkpoint.ts';
import { FAILURE, permanent } from './failures.ts';
import { checkGpuWorkersFromActivity } from './gpuWorkers.ts';
import { parsedConfig } from './parsedConfig.ts';
import { resumePoint } from './resumePoint.ts';
import { runStore, runTask } from './runtime.ts';
import { probeRunStore } from './storeProbe.ts';
import type { Cursor, RawRunConfig, RunPlan } from './types.ts';

/**
 * rlTraining's plan: RunPlan plus the run's hyper-parameters — the config's values and the overrides
 * (setHyperParameters) recorded in the checkpoint it resumes from.
 */
export interface RlRunPlan extends RunPlan {
  hyperParameters: { base: HyperParameterValues; overrides: HyperParameters };
}

/**
 * The identity a checkpoint is checked against. Overrides sent by setHyperParameters are not part of it:
 * checkpoints keep the config's hash, and the overrides ride along in their metrics.
 */
export function runConfigHash(config: RunConfig): string {
  return configHash(runIdentity(config));
}

/** The run's periodic evaluation, as an evaluation config waiting for its model. */
export function periodicEvaluation(config: RunConfig): RunPlan['evaluation'] {
  const e = config.evaluation;
  if (!e) return undefined;
  return {
    every: e.every,
    config: {
      evalId: `${config.runId}-eval`,
      seed: config.seed,
      task: e.task ?? heldOutTask(config.task),
      sampling: e.sampling,
      ...(e.limit !== undefined ? { limit: e.limit } : {}),
      store: { url: config.store.url },
      orchestration: {
        taskQueue: config.orchestration.taskQueues.rollout,
        device: config.orchestration.devices.rollout,
        heartbeatTimeoutSeconds: config.orchestration.heartbeatTimeoutSeconds,
        intraOpThreads: config.orchestration.intraOpThreads,
      },
    },
  };
}

/** The overrides a checkpoint carries; unreadable ones are a resume error naming the checkpoint. */
function recordedOverrides(runId: string, step: number, metrics: Record<string, number>): HyperParameters {
  try {
    return hyperParametersFromMetrics(metrics);
  } catch (error) {
    throw permanent(FAILURE.resume, `run ${runId}: checkpoint ${step}: ${(error as Error).message}`);
  }
}

export async function prepareRun(raw: RawRunConfig): Promise<RlRunPlan> {
  const config = parsedConfig(parseRunConfig, raw);
  try {
    checkModelDir(config);
  } catch (error) {
    throw permanent(FAILURE.config, (error as Error).message);
  }
  const store = runStore(config);
  // A store that is down now may answer on the next attempt; one that cannot be written fails for good.
  await probeRunStore(store, 'run.store.url', config.store.url);
  await checkGpuWorkersFromActivity(runQueues(config));
  const hash = runConfigHash(config);
  // A new run loads its task (data, tokenizer) before step 0 is written: a start that fails on bad data
  // must leave no checkpoint behind, or the fixed config would be refused as "a different config".
  const { manifest, rejected } = await resumePoint(
    store,
    config,
    hash,
    'run.steps',
    () => runTask(config).then(() => undefined),
    config.algorithm.lora,
  );
  return {
    runId: config.runId,
    configHash: hash,
    totalSteps: config.steps,
    checkpointStep: manifest.step,
    cursor: manifest.dataCursor as unknown as Cursor,
    weightsSha256: weightsSha256(manifest.objects) ?? '',
    shards: config.rollout.shards,
    ...(config.algorithm.kl.placement !== 'none' ? { referenceLogProbs: true } : {}),
    ...(config.rollout.maxRefillRounds
      ? { maxRefillRounds: config.rollout.maxRefillRounds, promptsPerStep: config.rollout.promptsPerStep }
      : {}),
    continueAsNewEvery: config.orchestration.continueAsNewEvery,
    heartbeatTimeoutSeconds: config.orchestration.heartbeatTimeoutSeconds,
    taskQueues: routedTaskQueues(config.orchestration.taskQueues, config.orchestration.devices),
    ...(config.orchestration.trainer.engine === 'torch' ? { trainerEngine: 'torch' as const } : {}),
    ...(config.orchestration.fusedStep ? { fusedStep: true as const } : {}),
    rejected,
    hyperParameters: {
      base: baseHyperParameters(config),
      overrides: recordedOverrides(config.runId, manifest.step, manifest.metrics),
    },
    ...(config.evaluation ? { evaluation: periodicEvaluation(config) } : {}),
  };
}
