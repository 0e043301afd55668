/**
 * referenceLogProbs: the KL reference policy's per-token log-probs of a step's trained responses (verl's
 * compute_ref_log_prob), on the trainer's device: it runs on the trainer queue, `-gpu` when
 * run.orchestration.devices.trainer is cuda, where the policy's own forward passes run. The reference is
 * the step-0 weights, or the newest checkpoint at a multiple of kl.refreshReferenceEvery. Written to the
 * store as JSON under the step's rollouts prefix; scoreRollouts reads them for the KL in the reward or the
 * loss. The rows are scoreRollouts' own (stepBatch.ts) and the scorer the one it used, so on the CPU the
 * numbers are the ones it computed itself before this activity existed.
 */
import { heartbeat } from '@temporalio/activity';
import { parseRunConfig, type RunConfig } from '../core/config/run.ts';
import { deviceKey, type Device } from '../core/graph/device.ts';
import { referenceStepAt } from '../core/rl/klSchedule.ts';
import { ResponseScorer } from '../core/train/responseLogProbs.ts';
import { checkpointLoraAdapters, checkpointPolicyArrays } from './checkpointPolicy.ts';
import { trainerBaseWeights } from './loraBaseWeights.ts';
import { parsedConfig } from './parsedConfig.ts';
import { memo, modelConfig, rolloutKey, runStore, runTask, sessionConfig } from './runtime.ts';
import type { RolloutRecord } from './sampleRollouts.ts';
import { sampledStepRecords, trainedRecords } from './stepBatch.ts';
import { requireDeviceKind } from './workerDevice.ts';
import type { ReferenceLogProbsInput, ReferenceLogProbsOutput } from './types.ts';

/** Rows per reference forward pass. */
const SCORER_BATCH = 64;

/** The object a step's reference log-probs are stored as (deleted with the step's rollouts). */
export const REFERENCE_LOGPROBS_OBJECT = 'reference-logprobs.json';

const scorers = new Map<string, Promise<ResponseScorer>>();

/** The reference policy's log-probs of `records`' response tokens at step `step`, on `device`. */
export function referenceLogProbsOf(
  config: RunConfig,
  step: number,
  records: readonly RolloutRecord[],
  device: Device,
): Promise<number[][]> {
  const reference = referenceStepAt(step - 1, config.algorithm.kl.refreshReferenceEvery);
  return checkpointLogProbsOf(config, reference, records, device);
}

/**
 * The log-probs of `records`' response tokens under the run's checkpoint `checkpoint`, on `device`: the
 * KL reference's, or the old policy's when algorithm.recomputeOldLogprobs asks for them.
 */
export async function checkpointLogProbsOf(
  config: RunConfig,
  checkpoint: number,
  records: readonly RolloutRecord[],
  device: Device,
): Promise<number[][]> {
  if (config.algorithm.lora?.baseDtype === 'float16')
    return halfBaseLogProbs(config, checkpoint, records, device);
  const chunk = config.algorithm.logProbChunkTokens;
  const model = await modelConfig(config);
  const scorer = await memo(
    scorers,
    JSON.stringify([config.model, config.orchestration, chunk, deviceKey(device)]),
    () => ResponseScorer.create(model, sessionConfig(config, device), chunk),
  );
  const policy = await checkpointPolicyArrays('score', runStore(config), config.runId, checkpoint);
  try {
    return await scorer.logProbs(
      policy.arrays,
      records.map((r) => ({ promptIds: r.promptIds, responseIds: r.tokens })),
      config.rollout.temperature,
      SCORER_BATCH,
    );
  } finally {
    policy.release();
  }
}

/**
 * A LoRA run with a float16 base (lora.baseDtype) scores as its trainer computes: the trainer's half base
 * (loraBaseWeights.ts, shared with the update on a trainer worker) and the checkpoint's adapters unmerged,
 * so the reference of step 0 is exactly the trainer's starting policy and no float32 copy of the base is
 * read for scoring.
 */
async function halfBaseLogProbs(
  config: RunConfig,
  checkpoint: number,
  records: readonly RolloutRecord[],
  device: Device,
): Promise<number[][]> {
  const lora = config.algorithm.lora!;
  const model = await modelConfig(config);
  const chunk = config.algorithm.logProbChunkTokens;
  const scorer = await memo(
    scorers,
    JSON.stringify([config.model, config.orchestration, chunk, deviceKey(device), lora]),
    () =>
      ResponseScorer.create(model, sessionConfig(config, device), chunk, {
        lora,
        weightDtype: lora.baseDtype,
      }),
  );
  const { adapters } = await checkpointLoraAdapters(runStore(config), config.runId, checkpoint);
  return scorer.logProbs(
    await trainerBaseWeights(config),
    records.map((r) => ({ promptIds: r.promptIds, responseIds: r.tokens })),
    config.rollout.temperature,
    SCORER_BATCH,
    adapters,
  );
}

/** The step's reference log-probs, read back as referenceLogProbs stored them. */
export async function storedReferenceLogProbs(config: RunConfig, key: string): Promise<number[][]> {
  return JSON.parse(new TextDecoder().decode(await runStore(config).get(key))) as number[][];
}

export async function referenceLogProbs(input: ReferenceLogProbsInput): Promise<ReferenceLogProbsOutput> {
  const started = performance.now();
  const config = parsedConfig(parseRunConfig, input.config);
  const device = requireDeviceKind(config.orchestration.devices.trainer, 'run.orchestration.devices.trainer');
  const store = runStore(config);
  const sampled = await sampledStepRecords(store, config.rollout, input);
  const records = await trainedRecords(() => runTask(config), sampled, input.rounds ?? 1, config.rollout);
  heartbeat({ phase: 'read', responses: records.length });
  const logprobs = await referenceLogProbsOf(config, input.step, records, device);
  heartbeat({ phase: 'scored' });
  // JSON keeps every float32 value exactly (a double prints as the shortest string that reads back to it).
  const key = rolloutKey(config.runId, input.step, REFERENCE_LOGPROBS_OBJECT);
  await store.put(key, new TextEncoder().encode(JSON.stringify(logprobs)));
  return { key, seconds: (performance.now() - started) / 1000 };
}
