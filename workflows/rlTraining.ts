/**
 * rlTraining: the RL loop of the paper as durable orchestration — each step samples rollouts (fanned out
 * over shards), scores them, updates the policy and checkpoints it. No tensors here: activities exchange
 * store keys and small summaries. Resuming = starting it again with the same run id (the workflow id):
 * prepareRun finds the newest verified checkpoint. The history is kept short by continuing as new.
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
import type { Cursor, RawRunConfig } from '../activities/types.ts';
import {
  pauseSignal,
  resumeSignal,
  statusQuery,
  stopSignal,
  type TrainingResult,
  type TrainingStatus,
} from './definitions.ts';

/** Carried across continue-as-new (signals received before it must not be lost). */
export interface TrainingCarry {
  paused?: boolean;
}

/**
 * Timeouts. Long activities heartbeat; a worker killed mid-activity is detected within
 * run.orchestration.heartbeatTimeoutSeconds and the attempt retried elsewhere. START_TO_CLOSE bounds one attempt.
 */
const START_TO_CLOSE = '2 hours';
const RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' };

const { prepareRun } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10 minutes',
  retry: RETRY,
});

export async function rlTraining(config: RawRunConfig, carry: TrainingCarry = {}): Promise<TrainingResult> {
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

  const plan = await prepareRun(config);
  status.runId = plan.runId;
  status.step = plan.checkpointStep;
  status.totalSteps = plan.totalSteps;
  status.rejectedCheckpoints = plan.rejected;
  const { sampleRollouts } = proxyActivities<typeof activities>({
    taskQueue: plan.taskQueues.rollout,
    startToCloseTimeout: START_TO_CLOSE,
    heartbeatTimeout: `${plan.heartbeatTimeoutSeconds} seconds`,
    retry: RETRY,
  });
  const { scoreRollouts } = proxyActivities<typeof activities>({
    taskQueue: plan.taskQueues.cpu,
    startToCloseTimeout: START_TO_CLOSE,
    retry: RETRY,
  });
  const { updatePolicy, checkpoint } = proxyActivities<typeof activities>({
    taskQueue: plan.taskQueues.trainer,
    startToCloseTimeout: START_TO_CLOSE,
    heartbeatTimeout: `${plan.heartbeatTimeoutSeconds} seconds`,
    retry: RETRY,
  });

  let cursor: Cursor = plan.cursor;
  let weightsSha256 = plan.weightsSha256;
  while (status.step < plan.totalSteps) {
    if (status.paused) {
      status.phase = 'paused';
      await condition(() => !status.paused || status.stopRequested);
    }
    if (status.stopRequested) break;
    const step = status.step + 1;

    status.phase = 'sampling';
    const shards = await Promise.all(
      Array.from({ length: plan.shards }, (_, shard) => sampleRollouts({ config, step, shard, cursor })),
    );
    status.phase = 'scoring';
    const scored = await scoreRollouts({ config, step, shardKeys: shards.map((s) => s.key) });
    status.phase = 'updating';
    const update = await updatePolicy({ config, step, scoredKey: scored.key });
    const metrics = {
      ...update.metrics,
      meanTaskReward: scored.meanTaskReward,
      meanReward: scored.meanReward,
      accuracy: scored.accuracy,
      keptFraction: scored.keptFraction,
      klToReference: scored.klToReference,
      completionRatio: scored.completionRatio,
      meanResponseLength:
        shards.reduce((n, s) => n + s.meanResponseLength * s.responses, 0) /
        Math.max(
          1,
          shards.reduce((n, s) => n + s.responses, 0),
        ),
    };
    status.phase = 'checkpointing';
    const saved = await checkpoint({
      config,
      step,
      objects: update.objects,
      cursor: shards[0].nextCursor,
      metrics,
    });

    cursor = shards[0].nextCursor;
    weightsSha256 = saved.weightsSha256;
    status.step = step;
    status.stepsThisRun++;
    status.lastMetrics = metrics;
    status.lastWeightsSha256 = weightsSha256;

    const more = status.step < plan.totalSteps && !status.stopRequested;
    if (more && (status.stepsThisRun >= plan.continueAsNewEvery || workflowInfo().continueAsNewSuggested)) {
      // Signals and queries in flight finish first; their effect (pause) is carried over.
      await condition(allHandlersFinished);
      await continueAsNew<typeof rlTraining>(config, { paused: status.paused });
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
    rejectedCheckpoints: plan.rejected,
  };
}
