/**
 * writeDifficultyFilter (cpu queue): joins the shards' pass counts with the problems, applies the band and
 * writes (a) every problem's pass rate and (b) the kept problems as JSONL rows a `file` data source reads
 * (FILTERED_DATA_FIELDS), then the summary — last, so its presence means both files are complete.
 */
import {
  applyDifficultyFilter,
  FILTERED_DATA_FIELDS,
  toJsonl,
  type DifficultyFilterSummary,
  type PassCount,
} from '../../core/data/difficulty.ts';
import { parseDifficultyFilterConfig } from '../../core/config/difficultyFilter.ts';
import { FAILURE, permanent } from '../failures.ts';
import { parsedConfig } from '../parsedConfig.ts';
import { runStore } from '../runtime.ts';
import { filterKeys, filterProblems, type FilterPlan } from './plan.ts';

export interface WriteFilterInput {
  config: unknown;
  plan: Pick<FilterPlan, 'prefix' | 'model' | 'problems' | 'shards'>;
}

export async function writeDifficultyFilter(input: WriteFilterInput): Promise<DifficultyFilterSummary> {
  const config = parsedConfig(parseDifficultyFilterConfig, input.config);
  const store = runStore(config);
  const keys = filterKeys(input.plan.prefix, config);
  const counts: PassCount[] = [];
  for (const shard of input.plan.shards) {
    // A missing shard is retryable: its activity may have written it a moment ago on another store node.
    counts.push(
      ...(JSON.parse(new TextDecoder().decode(await store.get(keys.shard(shard.first)))) as PassCount[]),
    );
  }
  const { problems, skipped } = await filterProblems(config);
  if (problems.length !== input.plan.problems) {
    throw permanent(
      FAILURE.data,
      `task.data: ${problems.length} problems now, ${input.plan.problems} when the filter was planned`,
    );
  }
  let out;
  try {
    out = applyDifficultyFilter(problems, counts, config);
  } catch (error) {
    throw permanent(FAILURE.data, (error as Error).message);
  }
  await store.put(keys.passRates, new TextEncoder().encode(toJsonl(out.passRates)));
  await store.put(keys.filtered, new TextEncoder().encode(toJsonl(out.filtered)));
  const summary: DifficultyFilterSummary = {
    filterId: config.filterId,
    model: input.plan.model.tag,
    ...(input.plan.model.step !== undefined ? { step: input.plan.model.step } : {}),
    samples: config.sampling.samples,
    ...(config.minPassRate !== undefined ? { minPassRate: config.minPassRate } : {}),
    ...(config.maxPassRate !== undefined ? { maxPassRate: config.maxPassRate } : {}),
    ...out.counts,
    skippedRows: skipped.count,
    meanPassRate: out.passRates.reduce((s, r) => s + r.passRate, 0) / out.passRates.length,
    storeUrl: config.store.url,
    passRatesKey: keys.passRates,
    filteredKey: keys.filtered,
    summaryKey: keys.summary,
    fields: FILTERED_DATA_FIELDS,
  };
  await store.put(keys.summary, new TextEncoder().encode(JSON.stringify(summary)));
  return summary;
}
