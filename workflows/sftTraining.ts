/**
 * sftTraining: supervised fine-tuning as durable orchestration — chunks of `sft.checkpointEvery` optimizer
 * steps, each one heartbeating activity on the trainer that ends with a checkpoint. Resuming = starting it
 * again with the same run id: prepareSft finds the newest verified checkpoint. Pause, resume, stop and the
 * status query are rlTraining's.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import type { Cursor } from '../activities/types.ts';
import type { SftConfigInput } from '../core/config/sft.ts';
import {
  pauseSignal,
  resumeSignal,
  statusQuery,
  stopSignal,
  type TrainingResult,
  type TrainingStatus,
} from './definitions.ts';
import type { TrainingCarry } from './rlTraining.ts';

const RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' };

const { prepareSft } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10 minutes',
  retry: RETRY,
});

export async function sftTraining(
  config: SftConfigInput,
  carry: TrainingCarry = {},
): Promise<TrainingResult> {
  const status: TrainingStatus = {
    runId: workflowInfo().workflowId,
    step: 0,
    totalSteps: 0,
    phase: 'preparing',
    paused: carry.paused ?? false,
    stopRequested: false,
    stepsThisRun: 0,
    lastMetrics: {},
    rejectedCheckpoints: [],
  };
  setHandler(pauseSignal, () => void (status.paused = true));
  setHandler(resumeSignal, () => void (status.paused = false));
  setHandler(stopSignal, () => void (status.stopRequested = true));
  setHandler(statusQuery, () => status);

  const plan = await prepareSft(config);
  status.runId = plan.runId;
  status.step = plan.checkpointStep;
  status.totalSteps = plan.totalSteps;
  const { sftSteps } = proxyActivities<typeof activities>({
    taskQueue: plan.trainerQueue,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: `${plan.heartbeatTimeoutSeconds} seconds`,
    retry: RETRY,
  });
  let cursor: Cursor = plan.cursor;
  let weightsSha256 = '';
  while (status.step < plan.totalSteps) {
    if (status.paused) {
      status.phase = 'paused';
      await condition(() => !status.paused || status.stopRequested);
    }
    if (status.stopRequested) break;
    status.phase = 'updating';
    const toStep = Math.min(plan.totalSteps, status.step + plan.checkpointEvery);
    const out = await sftSteps({ config, fromStep: status.step, toStep, cursor });
    status.stepsThisRun += toStep - status.step;
    status.step = toStep;
    status.lastMetrics = out.metrics;
    status.lastWeightsSha256 = out.weightsSha256;
    cursor = out.cursor;
    weightsSha256 = out.weightsSha256;

    const more = status.step < plan.totalSteps && !status.stopRequested;
    if (more && (status.stepsThisRun >= plan.continueAsNewEvery || workflowInfo().continueAsNewSuggested)) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof sftTraining>(config, { paused: status.paused });
    }
  }
  const stopped = status.step < plan.totalSteps;
  status.phase = stopped ? 'stopped' : 'done';
  await condition(allHandlersFinished);
  return {
    runId: plan.runId,
    step: status.step,
    stopped,
    weightsSha256,
    metrics: status.lastMetrics,
    rejectedCheckpoints: [],
  };
}
