/**
 * updatePolicy: the actor update of one step (PolicyUpdater: mini-batches, AdamW) on the trainer. The
 * trainer keeps the newest state in memory; when it does not hold the state of step − 1 (a fresh or
 * restarted worker, another worker's run) it reloads it from that step's verified checkpoint, so the result
 * is the same either way. The new weights and optimizer state are written under the step's checkpoint
 * prefix; the `checkpoint` activity then commits them with a manifest. Overrides sent by setHyperParameters
 * come with the input and change what this step computes with, never the run's identity (the warm state's
 * key, the checkpoint's config hash).
 */
import { heartbeat } from '@temporalio/activity';
import type { OptimizerState } from '../core/graph/index.ts';
import type { QwenModelDir } from '../core/model/modelDir.ts';
import { lrAt } from '../core/rl/lrSchedule.ts';
import { klCoefAt } from '../core/rl/klSchedule.ts';
import { PolicyUpdater } from '../core/train/policyUpdate.ts';
import type { RolloutRow } from '../core/train/rolloutBatch.ts';
import type { RunConfig } from '../core/config/run.ts';
import {
  HyperParameterError,
  parseHyperParameters,
  withHyperParameters,
  type HyperParameters,
} from '../core/config/hyperParameters.ts';
import { FAILURE, permanent, runConfigOrFail } from './failures.ts';
import { runConfigHash } from './prepareRun.ts';
import { memo, modelConfig, runStore, sessionConfig, verifiedManifest } from './runtime.ts';
import { requireDeviceKind } from './workerDevice.ts';
import { deviceKey } from '../core/graph/device.ts';
import { readCheckpointState, storeStateFiles, withStateFiles } from './trainerState.ts';
import type { UpdatePolicyInput, UpdatePolicyOutput } from './types.ts';

/** The warm copy: one run's state after `step` steps, with the model dir's non-weight files. */
interface WarmState {
  configHash: string;
  step: number;
  state: OptimizerState;
  base: Omit<QwenModelDir, 'weights'>;
}

let warm: WarmState | undefined;
const updaters = new Map<string, Promise<PolicyUpdater>>();
/**
 * One update at a time per process: a worker polls both the shared trainer queue and its own, and an
 * attempt whose heartbeat timed out may still be running when its retry arrives; both would read and
 * replace the same warm state.
 */
let updateLock: Promise<unknown> = Promise.resolve();

/** updatePolicy's input: the run's config as given, and the hyper-parameter overrides in force for this step. */
export interface StepUpdateInput extends UpdatePolicyInput {
  hyperParameters?: HyperParameters;
}

/** Forgets the warm state (tests use it to force the reload path). */
export function dropWarmTrainerState(): void {
  warm = undefined;
}

async function stateAt(
  config: RunConfig,
  hash: string,
  step: number,
): Promise<{ w: WarmState; reloaded: boolean }> {
  if (warm && warm.configHash === hash && warm.step === step) return { w: warm, reloaded: false };
  const store = runStore(config);
  const manifest = await verifiedManifest(store, config.runId, step);
  const { model, state } = await readCheckpointState(store, manifest);
  const { weights: _weights, ...base } = model;
  return { w: { configHash: hash, step, state, base }, reloaded: true };
}

function lrScheduleOf(config: RunConfig) {
  const o = config.algorithm.optimizer;
  return {
    schedule: o.schedule,
    lr: o.lr,
    warmupSteps: o.warmupSteps,
    totalSteps: o.decaySteps ?? config.steps,
    minLrRatio: o.minLrRatio,
  };
}

/** The config this step computes with: the run's, with the step's overrides written in. */
function stepConfig(config: RunConfig, overrides: unknown): RunConfig {
  if (
    overrides === undefined ||
    (typeof overrides === 'object' && overrides !== null && Object.keys(overrides).length === 0)
  ) {
    return config;
  }
  try {
    return withHyperParameters(config, parseHyperParameters(overrides));
  } catch (error) {
    if (error instanceof HyperParameterError) throw permanent(FAILURE.config, error.message);
    throw error;
  }
}

export async function updatePolicy(input: StepUpdateInput): Promise<UpdatePolicyOutput> {
  const turn = updateLock.then(() => updateStep(input));
  updateLock = turn.catch(() => undefined);
  return turn;
}

async function updateStep(input: StepUpdateInput): Promise<UpdatePolicyOutput> {
  const base = runConfigOrFail(input.config);
  const hash = runConfigHash(base);
  const config = stepConfig(base, input.hyperParameters);
  const store = runStore(config);
  const { w, reloaded } = await stateAt(config, hash, input.step - 1);
  heartbeat({ phase: 'loaded' });
  const rows = JSON.parse(new TextDecoder().decode(await store.get(input.scoredKey))) as RolloutRow[];
  const device = requireDeviceKind(config.orchestration.devices.trainer, 'run.orchestration.devices.trainer');
  const updater = await memo(
    updaters,
    JSON.stringify([config.model, config.algorithm, config.orchestration, deviceKey(device)]),
    async () =>
      PolicyUpdater.create(await modelConfig(config), config.algorithm, sessionConfig(config, device)),
  );
  const rlStep = input.step - 1;
  const { state, metrics } = await updater.update(w.state, rows, {
    seed: config.seed,
    step: rlStep,
    temperature: config.rollout.temperature,
    lr: lrAt(rlStep, lrScheduleOf(config)),
    klCoef: klCoefAt(rlStep, config.algorithm.kl),
    maxLength: config.rollout.maxNewTokens,
  });
  heartbeat({ phase: 'updated' });
  warm = { configHash: hash, step: input.step, state, base: w.base };
  const objects = await withStateFiles(w.base, state, (sources) =>
    storeStateFiles(store, config.runId, input.step, sources),
  );
  const last = metrics[metrics.length - 1];
  return { objects, metrics: { ...last, optimizerSteps: metrics.length }, reloaded };
}
