/**
 * A step's batch as both of its readers take it: the responses its sampling shards stored, in (prompt,
 * sample) order, and of a refilled step the promptsPerStep groups it trains on. scoreRollouts scores it;
 * referenceLogProbs runs the reference policy over exactly the same rows in the same order, so its numbers
 * are the ones scoreRollouts would compute itself.
 */
import type { RunConfig } from '../core/config/run.ts';
import { refillSelection } from '../core/reward/dynamicSampling.ts';
import type { ObjectStore } from '../core/store/index.ts';
import type { GroupScores, TaskRuntime } from '../core/task/types.ts';
import { FAILURE, permanent } from './failures.ts';
import type { RolloutRecord } from './sampleRollouts.ts';
import type { ScoreRolloutsInput } from './types.ts';

/** Which step's shards, over how many sampling rounds: what scoreRollouts and referenceLogProbs get. */
export type StepShards = Pick<ScoreRolloutsInput, 'step' | 'shardKeys' | 'rounds'>;

/** Every response the step's shards stored, sorted; a count off promptsPerStep × n × rounds is bad data. */
export async function sampledStepRecords(
  store: ObjectStore,
  rollout: RunConfig['rollout'],
  input: StepShards,
): Promise<RolloutRecord[]> {
  const records: RolloutRecord[] = [];
  for (const key of input.shardKeys) {
    records.push(...(JSON.parse(new TextDecoder().decode(await store.get(key))) as RolloutRecord[]));
  }
  const expected = rollout.promptsPerStep * rollout.n * (input.rounds ?? 1);
  if (records.length !== expected) {
    throw permanent(
      FAILURE.data,
      `step ${input.step}: ${records.length} rollouts in ${input.shardKeys.length} shards, expected ${expected}`,
    );
  }
  return records.sort((a, b) => a.prompt - b.prompt || a.sample - b.sample);
}

/**
 * The groups a refilled step trains on (the first promptsPerStep with signal, over all rounds), as a
 * function that picks their entries out of any per-response list; undefined for a step of one round,
 * which trains on all it sampled.
 */
export function trainedGroups(
  groupKeep: readonly boolean[],
  rounds: number,
  rollout: RunConfig['rollout'],
): number[] | undefined {
  return rounds === 1 ? undefined : refillSelection(groupKeep, rollout.promptsPerStep);
}

/** The entries of `xs` (one per response, n per group) of the chosen groups; all of them without a choice. */
export function pickGroups<T>(xs: readonly T[], chosen: readonly number[] | undefined, n: number): T[] {
  return chosen ? chosen.flatMap((g) => xs.slice(g * n, (g + 1) * n)) : [...xs];
}

/** The responses the step trains on, in the order scoreRollouts writes its rows. */
export async function trainedRecords(
  task: () => Promise<TaskRuntime>,
  sampled: readonly RolloutRecord[],
  rounds: number,
  rollout: RunConfig['rollout'],
): Promise<RolloutRecord[]> {
  if (rounds === 1) return [...sampled];
  const { groupKeep } = scoreGroups(await task(), sampled);
  return pickGroups(sampled, trainedGroups(groupKeep, rounds, rollout), rollout.n);
}

/** Scores each prompt's group (records sorted by prompt, then sample). */
export function scoreGroups(
  task: TaskRuntime,
  records: readonly RolloutRecord[],
): {
  taskRewards: number[];
  correct: boolean[];
  inLoss: boolean[];
  groupKeep: boolean[];
  parts: (Record<string, number> | undefined)[];
  reasons: (string | undefined)[];
} {
  const taskRewards: number[] = [];
  const parts: (Record<string, number> | undefined)[] = [];
  const reasons: (string | undefined)[] = [];
  const correct: boolean[] = [];
  const inLoss: boolean[] = [];
  const groupKeep: boolean[] = [];
  for (let start = 0; start < records.length;) {
    let end = start;
    while (end < records.length && records[end].prompt === records[start].prompt) end++;
    const group = records.slice(start, end);
    const scores: GroupScores = task.scoreGroup(group[0].problem, group);
    taskRewards.push(...scores.rewards);
    correct.push(...scores.correct);
    inLoss.push(...scores.lossMask.map((m) => scores.keep && m !== 0));
    groupKeep.push(scores.keep);
    group.forEach((_, i) => {
      parts.push(scores.parts?.[i]);
      reasons.push(scores.reasons?.[i]);
    });
    start = end;
  }
  return { taskRewards, correct, inLoss, groupKeep, parts, reasons };
}
