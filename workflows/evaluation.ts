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
import { heartbeatSecondsOf, MODEL_PASS_TIMEOUT, RETRY } from './activityOptions.ts';

export async function evaluation(config: EvaluationConfigInput): Promise<EvaluationSummary> {
  const { evaluateModel } = proxyActivities<typeof activities>({
    taskQueue: deviceTaskQueue(
      config.orchestration?.taskQueue ?? DEFAULT_TASK_QUEUES.rollout,
      config.orchestration?.device ?? 'cpu',
    ),
    startToCloseTimeout: MODEL_PASS_TIMEOUT,
    heartbeatTimeout: `${heartbeatSecondsOf(config)} seconds`,
    retry: RETRY,
  });
  return evaluateModel(config);
}
