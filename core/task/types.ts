/**
 * What a task gives the activities that sample, score and train on it: the problems' prompts as token ids,
 * the stop tokens, the generate hooks of tool use, and the scoring of one prompt's group of responses.
 */
import type { GenerateOptions } from '../generate/generation.ts';
import type { ToolMetrics } from '../tools/metrics.ts';

export interface TaskResponse {
  tokens: readonly number[];
  finishReason: string;
}

export interface GroupScores {
  /** The task reward of each response (before any KL penalty). */
  rewards: number[];
  correct: boolean[];
  /** 0 = the response is left out of the loss (ORM, RS), 1 = it counts. */
  lossMask: number[];
  /** False when the whole group is dropped (QS, dynamic sampling). */
  keep: boolean;
  /** Optional detail for the rollout records: the verifier's verdict and the reward's terms, per response. */
  reasons?: string[];
  parts?: Record<string, number>[];
}

/** The generate options a task adds: tool turns (stop at a closed code block, run it, insert the output). */
export type GenerationHooks = Pick<GenerateOptions, 'stopStrings' | 'decode' | 'onTurnEnd'>;

export interface TaskRuntime {
  size: number;
  promptIds(index: number): number[];
  stopTokenIds: number[];
  /** Hooks for one generate call; tool calls made during it are counted into `metrics`. */
  generation(metrics: ToolMetrics): Promise<GenerationHooks>;
  scoreGroup(index: number, responses: readonly TaskResponse[]): GroupScores;
  /** The response as text (token ids joined for token-level tasks). */
  responseText(tokens: readonly number[]): string;
  /** Problems skipped while loading the data (bad rows), for the run's report. */
  skippedRows: number;
}
