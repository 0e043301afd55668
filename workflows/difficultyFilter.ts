/**
 * difficultyFilter: a model's pass rate on every problem of a math task, and the problems inside the keep
 * band as a dataset (STILL-3 kept those neither always nor never solved). Plan on the cpu queue, one
 * heartbeating filterShard per range of problems on the rollout queue (in parallel), then the outputs on
 * the cpu queue. Results live in the store under `filters/<filterId>/`; an identical re-run returns the
 * stored summary.
 */
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import type { DifficultyFilterSummary } from '../core/data/difficulty.ts';
import type { DifficultyFilterConfigInput } from '../core/config/difficultyFilter.ts';
import { DEFAULT_TASK_QUEUES } from '../core/config/taskQueues.ts';
import { heartbeatSecondsOf, MODEL_PASS_TIMEOUT, RETRY, STORE_WORK_TIMEOUT } from './activityOptions.ts';

export async function difficultyFilter(
  config: DifficultyFilterConfigInput,
): Promise<DifficultyFilterSummary> {
  const { planDifficultyFilter, writeDifficultyFilter } = proxyActivities<typeof activities>({
    taskQueue: config.orchestration?.taskQueues?.cpu ?? DEFAULT_TASK_QUEUES.cpu,
    startToCloseTimeout: STORE_WORK_TIMEOUT,
    heartbeatTimeout: `${heartbeatSecondsOf(config)} seconds`,
    retry: RETRY,
  });
  const plan = await planDifficultyFilter(config);
  if (plan.done) return plan.done;
  const { filterShard } = proxyActivities<typeof activities>({
    taskQueue: plan.rolloutQueue,
    startToCloseTimeout: MODEL_PASS_TIMEOUT,
    heartbeatTimeout: `${plan.heartbeatTimeoutSeconds} seconds`,
    retry: RETRY,
  });
  const { prefix, model, problems, shards } = plan;
  await Promise.all(shards.map((shard) => filterShard({ config, plan: { prefix, model, problems }, shard })));
  return writeDifficultyFilter({ config, plan: { prefix, model, problems, shards } });
}
