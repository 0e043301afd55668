/**
 * evaluation: one model on one task's problems, as one heartbeating activity on the rollout queue. Started
 * by `reasonloop eval`, by a Temporal Schedule (with `model.checkpoint` and no step: the newest checkpoint
 * of a run at each firing), or as a child of rlTraining every `evalEvery` steps. Results live in the store
 * under `evals/<evalId>/`; the workflow returns the summary.
 */
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import type { EvaluationSummary } from '../core/metrics/evaluation.ts';
import type { EvaluationConfigInput } from '../core/config/evaluation.ts';
import { DEFAULT_TASK_QUEUES, deviceTaskQueue } from '../core/config/taskQueues.ts';

const DEFAULT_HEARTBEAT_SECONDS = 60;

export async function evaluation(config: EvaluationConfigInput): Promise<EvaluationSummary> {
  const { evaluateModel } = proxyActivities<typeof activities>({
    taskQueue: deviceTaskQueue(
      config.orchestration?.taskQueue ?? DEFAULT_TASK_QUEUES.rollout,
      config.orchestration?.device ?? 'cpu',
    ),
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: `${config.orchestration?.heartbeatTimeoutSeconds ?? DEFAULT_HEARTBEAT_SECONDS} seconds`,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  return evaluateModel(config);
}
