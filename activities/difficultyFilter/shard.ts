/**
 * filterShard (rollout queue): k responses to each problem of one contiguous range, verified by the
 * task's scorer (core/reward), counted per problem and written to the store. Random draws are keyed by
 * (seed, problem index, sample), so a retried shard writes the same counts; a shard already stored is
 * not generated again.
 */
import {
  parseDifficultyFilterConfig,
  type DifficultyFilterConfig,
} from '../../core/config/difficultyFilter.ts';
import type { PassCount } from '../../core/data/difficulty.ts';
import { emptyToolMetrics } from '../../core/tools/metrics.ts';
import { FAILURE, permanent } from '../failures.ts';
import { parsedConfig } from '../parsedConfig.ts';
import { memo, runStore, sessionConfig } from '../runtime.ts';
import { sourcePolicy, type SourcePolicy } from '../checkpointPolicy.ts';
import { modelTask } from '../modelTask.ts';
import { weightUse, type Held } from '../policyFiles.ts';
import type { TaskRuntime } from '../../core/task/types.ts';
import { filterKeys, type FilterPlan, type PinnedModel } from './plan.ts';
import { sampleProblemGroups } from '../sharedGenerator.ts';
import { requireDeviceKind } from '../workerDevice.ts';

export interface FilterShardInput {
  config: unknown;
  plan: Pick<FilterPlan, 'prefix' | 'model' | 'problems'>;
  shard: { first: number; count: number };
}

export interface FilterShardOutput {
  key: string;
  problems: number;
  /** Correct responses in the shard, all problems together. */
  passes: number;
  /** True when the shard was already in the store. */
  reused: boolean;
}

/** The pinned model's files and policy: the worker's "evaluate" weight set, kept for the next shard. */
function pinnedModel(config: DifficultyFilterConfig, pinned: PinnedModel): Promise<Held<SourcePolicy>> {
  const device = requireDeviceKind(
    config.orchestration.devices.rollout,
    'filter.orchestration.devices.rollout',
  );
  const source = { model: pinned.source, store: config.store };
  return sourcePolicy('evaluate', source, weightUse(device, config.sampling.weightDtype));
}

const tasks = new Map<string, Promise<TaskRuntime>>();

function filterTask(
  config: DifficultyFilterConfig,
  pinned: PinnedModel,
  { model }: SourcePolicy,
): Promise<TaskRuntime> {
  return memo(tasks, JSON.stringify([config.task, pinned.tag]), () => modelTask(config.task, model));
}

/** k responses to each problem of [first, first + count), scored; the correct ones counted. */
async function countPasses(
  config: DifficultyFilterConfig,
  model: SourcePolicy,
  task: TaskRuntime,
  shard: { first: number; count: number },
): Promise<PassCount[]> {
  const { sampling } = config;
  const tools = emptyToolMetrics();
  const counts: PassCount[] = [];
  const range = { first: shard.first, end: shard.first + shard.count };
  const device = requireDeviceKind(
    config.orchestration.devices.rollout,
    'filter.orchestration.devices.rollout',
  );
  const session = sessionConfig(config, device);
  await sampleProblemGroups(model, session, task, range, sampling, config.seed, tools, (index, group) => {
    const { correct } = task.scoreGroup(index, group);
    counts.push({ index, passes: correct.filter(Boolean).length, samples: sampling.samples });
  });
  return counts;
}

export async function filterShard(input: FilterShardInput): Promise<FilterShardOutput> {
  const config = parsedConfig(parseDifficultyFilterConfig, input.config);
  const { first, count } = input.shard;
  if (!(first >= 0 && count >= 1 && first + count <= input.plan.problems)) {
    throw permanent(
      FAILURE.config,
      `filterShard: problems ${first}…${first + count - 1} are not a range of the ${input.plan.problems} problems`,
    );
  }
  const store = runStore(config);
  const key = filterKeys(input.plan.prefix, config).shard(first);
  const total = (counts: PassCount[]) => counts.reduce((n, c) => n + c.passes, 0);
  if (await store.head(key)) {
    const stored = JSON.parse(new TextDecoder().decode(await store.get(key))) as PassCount[];
    return { key, problems: stored.length, passes: total(stored), reused: true };
  }
  const model = await pinnedModel(config, input.plan.model);
  let counts: PassCount[];
  try {
    const task = await filterTask(config, input.plan.model, model);
    if (task.size < first + count) {
      throw permanent(
        FAILURE.data,
        `task.data: ${task.size} problems, the plan counted ${input.plan.problems}`,
      );
    }
    counts = await countPasses(config, model, task, input.shard);
  } finally {
    model.release();
  }
  await store.put(key, new TextEncoder().encode(JSON.stringify(counts)));
  return { key, problems: counts.length, passes: total(counts), reused: false };
}
