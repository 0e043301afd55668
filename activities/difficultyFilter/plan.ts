/**
 * planDifficultyFilter (cpu queue): validates the config, pins the model (the newest checkpoint becomes
 * a step), counts the problems and names the result folder. Every setting that changes a pass rate is in
 * the folder's hash, so a re-run with the same settings finds its summary (or its finished shards) and
 * does no work twice.
 */
import {
  parseDifficultyFilterConfig,
  type DifficultyFilterConfig,
} from '../../core/config/difficultyFilter.ts';
import { deviceTaskQueue } from '../../core/config/taskQueues.ts';
import { shardRanges, type DifficultyFilterSummary, type PassRateBand } from '../../core/data/difficulty.ts';
import { loadTaskProblems, type TaskProblems } from '../../core/data/splits.ts';
import { configHash, latestVerifiedCheckpoint, padStep } from '../../core/store/index.ts';
import { filterQueues } from '../../client/gpuWorkers.ts';
import { checkGpuWorkersFromActivity } from '../gpuWorkers.ts';
import { FAILURE, permanent } from '../failures.ts';
import { parsedConfig } from '../parsedConfig.ts';
import { memo, runStore } from '../runtime.ts';
import { probeRunStore } from '../storeProbe.ts';

/** Hex digits of the settings hash in the result folder's name (48 bits, as evaluation's). */
const SETTINGS_HASH_CHARS = 12;
/** Digits of a shard's first problem index in its key (sorts for data sets below 10^8 problems). */
const SHARD_INDEX_DIGITS = 8;

/** The model pinned for every shard: a checkpoint always with its step. */
export interface PinnedModel {
  /** `checkpoint:<runId>@<step>`, `dir:<path>` or `init:<seed>`. */
  tag: string;
  step?: number;
  source: Pick<DifficultyFilterConfig['model'], 'init' | 'dir'> & {
    checkpoint?: { runId: string; step: number };
  };
}

export interface FilterPlan {
  filterId: string;
  /** `filters/<filterId>/<model>/<settings hash>/`. */
  prefix: string;
  model: PinnedModel;
  problems: number;
  shards: { first: number; count: number }[];
  rolloutQueue: string;
  heartbeatTimeoutSeconds: number;
  /** The stored summary of an earlier identical run: nothing left to do. */
  done?: DifficultyFilterSummary;
}

/** `keep-gt0-lt1` (the default band), `keep-0.25-0.75`: the folder of one band's outputs. */
export function bandFolder(band: PassRateBand): string {
  return `keep-${band.minPassRate ?? 'gt0'}-${band.maxPassRate ?? 'lt1'}`;
}

/** Pass counts (per shard) depend on the settings only; the outputs also on the band. */
export const filterKeys = (prefix: string, band: PassRateBand) => ({
  shard: (first: number) => `${prefix}shards/${String(first).padStart(SHARD_INDEX_DIGITS, '0')}.json`,
  passRates: `${prefix}${bandFolder(band)}/pass-rates.jsonl`,
  filtered: `${prefix}${bandFolder(band)}/filtered.jsonl`,
  /** Written last: its presence means the other two are complete. */
  summary: `${prefix}${bandFolder(band)}/summary.json`,
});

async function pinModel(config: DifficultyFilterConfig): Promise<PinnedModel & { folder: string }> {
  const { init, dir, checkpoint } = config.model;
  if (init) return { tag: `init:${init.seed}`, source: { init }, folder: `init-${init.seed}` };
  if (dir) {
    // The settings hash tells apart paths that read alike once made key-safe.
    const folder = `dir-${dir.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-64)}`;
    return { tag: `dir:${dir}`, source: { dir }, folder };
  }
  const { runId } = checkpoint!;
  let step = checkpoint!.step;
  if (step === undefined) {
    const latest = await latestVerifiedCheckpoint(runStore(config), runId);
    if (!latest.manifest) {
      throw permanent(FAILURE.config, `model.checkpoint: run ${runId} has no verified checkpoint yet`);
    }
    step = latest.manifest.step;
  }
  return {
    tag: `checkpoint:${runId}@${step}`,
    step,
    source: { checkpoint: { runId, step } },
    folder: `${runId}/${padStep(step)}`,
  };
}

const problemSets = new Map<string, Promise<TaskProblems>>();

/** The task's problems in load order, the first `limit` of them; bad rows counted in `skipped`. */
export async function filterProblems(config: DifficultyFilterConfig): Promise<TaskProblems> {
  const loaded = await memo(problemSets, JSON.stringify(config.task.data), async () => {
    try {
      return await loadTaskProblems(config.task.data);
    } catch (error) {
      throw permanent(FAILURE.data, `task.data: ${(error as Error).message}`);
    }
  });
  const problems = loaded.problems.slice(0, config.limit ?? loaded.problems.length);
  if (problems.length === 0) throw permanent(FAILURE.data, 'task.data: the data has no usable problems');
  return { problems, skipped: loaded.skipped };
}

export async function planDifficultyFilter(raw: unknown): Promise<FilterPlan> {
  const config = parsedConfig(parseDifficultyFilterConfig, raw);
  const store = runStore(config);
  await probeRunStore(store, 'filter.store.url', config.store.url);
  await checkGpuWorkersFromActivity(filterQueues(config));
  const pinned = await pinModel(config);
  const settings = configHash({
    model: pinned.tag,
    init: config.model.init,
    task: config.task,
    sampling: config.sampling,
    limit: config.limit,
    seed: config.seed,
    // Generate calls batch a shard's problems; a different batching may round differently.
    problemsPerShard: config.orchestration.problemsPerShard,
  }).slice(0, SETTINGS_HASH_CHARS);
  // The band is not in the hash: pass counts do not depend on it, so another band reuses them.
  const prefix = `filters/${config.filterId}/${pinned.folder}/${settings}/`;
  const { problems } = await filterProblems(config);
  const plan: FilterPlan = {
    filterId: config.filterId,
    prefix,
    model: {
      tag: pinned.tag,
      source: pinned.source,
      ...(pinned.step !== undefined ? { step: pinned.step } : {}),
    },
    problems: problems.length,
    shards: shardRanges(problems.length, config.orchestration.problemsPerShard),
    rolloutQueue: deviceTaskQueue(
      config.orchestration.taskQueues.rollout,
      config.orchestration.devices.rollout,
    ),
    heartbeatTimeoutSeconds: config.orchestration.heartbeatTimeoutSeconds,
  };
  const summaryKey = filterKeys(prefix, config).summary;
  if (await store.head(summaryKey)) {
    const stored = JSON.parse(
      new TextDecoder().decode(await store.get(summaryKey)),
    ) as DifficultyFilterSummary;
    plan.done = { ...stored, reused: true };
  }
  return plan;
}
