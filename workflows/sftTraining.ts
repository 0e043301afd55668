/**
 * sftTraining: supervised fine-tuning as durable orchestration — chunks of `sft.checkpointEvery` optimizer
 * steps, each one heartbeating activity on the trainer that ends with a checkpoint. Resuming = starting it
 * again with the same run id: prepareSft finds the newest verified checkpoint. Pause, resume, stop and the
 * status query are rlTraining's.
 */
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import type { Cursor } from '../activities/types.ts';
import type { SftConfigInput } from '../core/config/sft.ts';
import type { TrainingResult } from './definitions.ts';
import {
  continueAsNewWhenDue,
  finishTraining,
  pausedOrStopped,
  trainingStatus,
  type TrainingCarry,
} from './trainingLoop.ts';
import { MODEL_PASS_TIMEOUT, prepareOptions, RETRY } from './activityOptions.ts';

export async function sftTraining(
  config: SftConfigInput,
  carry: TrainingCarry = {},
): Promise<TrainingResult> {
  const status = trainingStatus(carry);

  const { prepareSft } = proxyActivities<typeof activities>(prepareOptions(config));
  const plan = await prepareSft(config);
  status.runId = plan.runId;
  status.step = plan.checkpointStep;
  status.totalSteps = plan.totalSteps;
  const { sftSteps } = proxyActivities<typeof activities>({
    taskQueue: plan.trainerQueue,
    startToCloseTimeout: MODEL_PASS_TIMEOUT,
    heartbeatTimeout: `${plan.heartbeatTimeoutSeconds} seconds`,
    retry: RETRY,
  });
  let cursor: Cursor = plan.cursor;
  let weightsSha256 = '';
  while (status.step < plan.totalSteps) {
    if (await pausedOrStopped(status)) break;
    status.phase = 'updating';
    const toStep = Math.min(plan.totalSteps, status.step + plan.checkpointEvery);
    const out = await sftSteps({ config, fromStep: status.step, toStep, cursor });
    status.stepsThisRun += toStep - status.step;
    status.step = toStep;
    status.lastMetrics = out.metrics;
    status.lastWeightsSha256 = out.weightsSha256;
    cursor = out.cursor;
    weightsSha256 = out.weightsSha256;

    await continueAsNewWhenDue(status, plan.continueAsNewEvery, config);
  }
  const stopped = await finishTraining(status);
  return {
    runId: plan.runId,
    step: status.step,
    stopped,
    weightsSha256,
    metrics: status.lastMetrics,
    rejectedCheckpoints: [],
  };
}
