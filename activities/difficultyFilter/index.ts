/**
 * The difficulty filter's activities: planDifficultyFilter (cpu: validate, pin the model, count, find an
 * earlier result), filterShard (rollout: pass counts of one range of problems), writeDifficultyFilter
 * (cpu: pass rates + filtered dataset + summary in the store).
 */
export { planDifficultyFilter, type FilterPlan } from './plan.ts';
export { filterShard, type FilterShardInput, type FilterShardOutput } from './shard.ts';
export { writeDifficultyFilter } from './write.ts';
