/**
 * The metrics of one RL step, as its checkpoint records them: the update's, the rewards and KL of the
 * scoring, response lengths and tool use of the sampling shards, the refill counts and the phase timings.
 * Pure, and one function for both places a step is assembled: the workflow (a step in separate
 * activities) and the trainer's trainStep (a step in one activity), so both record the same numbers in
 * the same key order.
 */
import { stepTimingMetrics } from './stepTiming.ts';

/** What a sampling shard reports (activities' SampleRolloutsOutput, the fields the metrics read). */
export interface ShardSummary {
  responses: number;
  meanResponseLength: number;
  maxResponseLength?: number;
  promptTokens?: number;
  toolCalls?: number;
  toolErrors?: number;
  sandboxMs?: number;
  seconds?: number;
  groupsKept?: number;
}

/** What scoring reports (activities' ScoreRolloutsOutput, less its key). */
export interface ScoreSummary {
  meanTaskReward: number;
  meanReward: number;
  accuracy: number;
  keptFraction: number;
  klToReference: number;
  completionRatio: number;
  baseline?: { value: number; count: number };
  seconds?: number;
  groupsWithSignal?: number;
  oldLogprobDiffMean?: number;
  oldLogprobDiffMax?: number;
}

export interface StepParts {
  shards: readonly ShardSummary[];
  scored: ScoreSummary;
  /** The update's own metrics and seconds. */
  update: { metrics: Record<string, number>; seconds?: number };
  /** The reference log-probs' seconds, when the step computed them (a run with a KL term). */
  referenceSeconds?: number;
  /** Sampling rounds of the step (dynamic-sampling refill; 1 without). */
  rounds: number;
  /** The run refills (rollout.maxRefillRounds > 0): the refill counts are recorded. */
  refill: boolean;
}

/** Tool use of a step (only when a response called a tool): calls and errors per response, sandbox time. */
export function toolMetricsOf(shards: readonly ShardSummary[]): Record<string, number> {
  const sum = (f: (s: ShardSummary) => number) => shards.reduce((n, s) => n + f(s), 0);
  const calls = sum((s) => s.toolCalls ?? 0);
  if (calls === 0) return {};
  const responses = Math.max(
    1,
    sum((s) => s.responses),
  );
  return {
    toolCallsPerResponse: calls / responses,
    toolErrorsPerResponse: sum((s) => s.toolErrors ?? 0) / responses,
    sandboxSeconds: sum((s) => s.sandboxMs ?? 0) / 1000,
  };
}

export function stepMetrics(p: StepParts): Record<string, number> {
  const { shards, scored, update } = p;
  const responses = shards.reduce((n, s) => n + s.responses, 0);
  const responseTokens = shards.reduce((n, s) => n + s.meanResponseLength * s.responses, 0);
  return {
    ...update.metrics,
    meanTaskReward: scored.meanTaskReward,
    meanReward: scored.meanReward,
    accuracy: scored.accuracy,
    keptFraction: scored.keptFraction,
    klToReference: scored.klToReference,
    completionRatio: scored.completionRatio,
    // Present only when the run recomputes old log-probs: earlier histories carry no such field.
    ...(scored.oldLogprobDiffMean !== undefined
      ? { oldLogprobDiffMean: scored.oldLogprobDiffMean, oldLogprobDiffMax: scored.oldLogprobDiffMax! }
      : {}),
    ...toolMetricsOf(shards),
    ...(scored.baseline
      ? { baselineValue: scored.baseline.value, baselineCount: scored.baseline.count }
      : {}),
    meanResponseLength: responseTokens / Math.max(1, responses),
    maxResponseLength: Math.max(0, ...shards.map((s) => s.maxResponseLength ?? 0)),
    // verl's response_length/clip_ratio: responses cut at rollout.maxNewTokens.
    clipRatio: 1 - scored.completionRatio,
    ...(p.refill
      ? {
          refillRounds: p.rounds - 1,
          groupsWithSignal: scored.groupsWithSignal ?? shards.reduce((n, s) => n + (s.groupsKept ?? 0), 0),
        }
      : {}),
    ...stepTimingMetrics({
      sampleSeconds: shards.map((s) => s.seconds ?? 0),
      scoreSeconds: scored.seconds ?? 0,
      ...(p.referenceSeconds !== undefined ? { referenceSeconds: p.referenceSeconds } : {}),
      updateSeconds: update.seconds ?? 0,
      promptTokens: shards.reduce((n, s) => n + (s.promptTokens ?? 0), 0),
      responseTokens,
    }),
  };
}
