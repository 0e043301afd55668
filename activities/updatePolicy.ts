/**
 * updatePolicy: the actor update of one step (PolicyUpdater: mini-batches, AdamW) on the trainer. The
 * trainer keeps the newest state in memory; when it does not hold the state of step − 1 (a fresh or
 * restarted worker, another worker's run) it reloads it from that step's verified checkpoint, so the result
 * is the same either way. The new weights and optimizer state are written under the step's checkpoint
 * prefix; the `checkpoint` activity then commits them with a manifest. The config comes with the step's
 * setHyperParameters overrides written in (by the workflow); they change what this step computes with,
 * never the run's identity, so the warm state is keyed by the hash prepareRun gave the run.
 */
import type { OptimizerState } from '../core/graph/index.ts';
import type { QwenModelDir } from '../core/model/modelDir.ts';
import { lrAt } from '../core/rl/lrSchedule.ts';
import { klCoefAt } from '../core/rl/klSchedule.ts';
import { PolicyUpdater } from '../core/train/policyUpdate.ts';
import type { RolloutRow } from '../core/train/rolloutBatch.ts';
import { parseRunConfig, type RunConfig } from '../core/config/run.ts';
import { parsedConfig } from './parsedConfig.ts';
import { memo, modelConfig, modelFiles, runStore, sessionConfig, verifiedManifest } from './runtime.ts';
import { trainerBaseWeights } from './loraBaseWeights.ts';
import { requireDeviceKind } from './workerDevice.ts';
import { deviceKey } from '../core/graph/device.ts';
import { reduceMetrics } from '../core/metrics/reduce.ts';
import { readCheckpointState, storeStateFiles, withStateFiles } from './trainerState.ts';
import type { UpdatePolicyInput, UpdatePolicyOutput } from './types.ts';
import { phasePeaks } from '../core/metrics/phasePeaks.ts';
import { heartbeat } from '@temporalio/activity';

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
  // Another run's or step's state is dropped before this one is read: never two states at once.
  warm = undefined;
  const store = runStore(config);
  // readCheckpointState checks every object's sha256 as it streams it: one download, not two.
  const manifest = await verifiedManifest(store, config.runId, step, { contents: false });
  const lora = config.algorithm.lora;
  // LoRA: the checkpoint holds the adapters; the architecture files come from the run's base model.
  const loraRead = lora && { base: await modelFiles(config), spec: lora };
  const { model, state } = await readCheckpointState(store, manifest, loraRead);
  const base = withoutWeights(model);
  return { w: { configHash: hash, step, state, base }, reloaded: true };
}

function withoutWeights(model: QwenModelDir): Omit<QwenModelDir, 'weights'> {
  const { weights: _weights, ...base } = model;
  return base;
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

export async function updatePolicy(input: UpdatePolicyInput): Promise<UpdatePolicyOutput> {
  const turn = updateLock.then(() => updateStep(input));
  updateLock = turn.catch(() => undefined);
  return turn;
}

async function updateStep(input: UpdatePolicyInput): Promise<UpdatePolicyOutput> {
  const started = performance.now();
  const peaks = phasePeaks();
  const config = parsedConfig(parseRunConfig, input.config);
  const hash = input.configHash;
  const store = runStore(config);
  const { w, reloaded } = await stateAt(config, hash, input.step - 1);
  // The update overwrites the state's arrays in place: until it has finished, the warm copy is no step's.
  warm = undefined;
  const lora = config.algorithm.lora;
  // The frozen base of a LoRA run, fed to every step; loaded once per worker (loraBaseWeights.ts).
  const baseWeights = lora && (await trainerBaseWeights(config));
  peaks.end(reloaded ? 'reload' : 'warm');
  heartbeat({ phase: 'loaded' });
  const rows = JSON.parse(new TextDecoder().decode(await store.get(input.scoredKey))) as RolloutRow[];
  const device = requireDeviceKind(config.orchestration.devices.trainer, 'run.orchestration.devices.trainer');
  const updater = await memo(
    updaters,
    JSON.stringify([config.model, config.algorithm, config.orchestration, deviceKey(device)]),
    async () =>
      PolicyUpdater.create(
        await modelConfig(config),
        config.algorithm,
        sessionConfig(config, device),
        'float32',
        config.rollout.temperature,
      ),
  );
  peaks.end('prepare');
  const rlStep = input.step - 1;
  const { state, metrics } = await updater.update(
    w.state,
    rows,
    {
      seed: config.seed,
      step: rlStep,
      temperature: config.rollout.temperature,
      lr: lrAt(rlStep, lrScheduleOf(config)),
      klCoef: klCoefAt(rlStep, config.algorithm.kl),
      maxLength: config.rollout.maxNewTokens,
      onMicroBatch: (done, total) => heartbeat({ phase: 'updating', microBatch: done, microBatches: total }),
    },
    baseWeights,
  );
  peaks.end('update');
  heartbeat({ phase: 'writing' });
  warm = { configHash: hash, step: input.step, state, base: w.base };
  const objects = await withStateFiles(
    w.base,
    state,
    (sources) => storeStateFiles(store, config.runId, input.step, sources),
    {},
    lora && { spec: lora, base: config },
  );
  peaks.end('write');
  // Every optimizer step's metrics, reduced as verl reports them (mean; max/min for such names).
  return {
    objects,
    metrics: {
      ...reduceMetrics(metrics.map((m) => ({ ...m }))),
      optimizerSteps: metrics.length,
      ...peaks.metrics('trainer'),
    },
    reloaded,
    seconds: (performance.now() - started) / 1000,
  };
}
