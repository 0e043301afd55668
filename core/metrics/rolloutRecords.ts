/**
 * What a user reads of a step's rollouts: per response its decoded text, reward, correctness, length,
 * finish reason, the tool outputs inserted into it, its advantage and whether it entered the loss. Token
 * ids and log-probs stay in the rollout files; this is the compact, readable record (verl's rollout dump).
 * Kept at `runs/<runId>/records/<step>.json`, apart from the rollouts, so deleting those leaves it.
 */
import { padStep, runPrefix } from '../store/keys.ts';

export interface RolloutRecordView {
  /** Index of the problem in the task's dataset, and the group (prompt position) and sample. */
  problem: number;
  group: number;
  sample: number;
  text: string;
  /** The task reward, and the reward the advantage was computed from (KL in the reward subtracted). */
  taskReward: number;
  reward: number;
  correct: boolean;
  /** Response tokens, and how many the policy sampled (the rest a tool inserted). */
  tokens: number;
  sampledTokens: number;
  finishReason: string;
  /** Text each tool turn inserted, in order. */
  toolOutputs: string[];
  /** The advantage of the response's first loss token (all of them, for outcome estimators). */
  advantage: number;
  inLoss: boolean;
}

export function rolloutRecordsKey(runId: string, step: number): string {
  return `${runPrefix(runId)}records/${padStep(step)}.json`;
}

/** The maximal runs of inserted tokens (sampled false), as token-id arrays, in order. */
export function insertedSpans(tokens: readonly number[], sampled: readonly boolean[]): number[][] {
  const spans: number[][] = [];
  let current: number[] | undefined;
  tokens.forEach((t, i) => {
    if (sampled[i]) current = undefined;
    else if (current) current.push(t);
    else spans.push((current = [t]));
  });
  return spans;
}
