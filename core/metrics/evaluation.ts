import type { SampledEvaluationMetrics } from './sampledEvaluation.ts';

/**
 * What an evaluation of a model on a task's problems writes to the store and returns (the `evaluation`
 * workflow's result): one record per response, and the summary metrics over them.
 */
export interface EvaluationRecord {
  problem: number;
  sample: number;
  text: string;
  tokens: number;
  finishReason: string;
  correct: boolean;
  reward: number;
  /** The answer the response gives (math: the extracted final answer), for maj@k votes; absent = none. */
  answer?: string;
}

/** How the numbers were obtained: written beside every result, since scores move with the protocol. */
export interface EvaluationProtocol {
  /** The problems: a benchmark's name, a file or store key, a synthetic task, or reverseDigits. */
  benchmark: string;
  problems: number;
  /** Samples per problem (n); pass@k and maj@k are given for every k ≤ n. */
  n: number;
  temperature: number;
  topP?: number;
  topK?: number;
  maxNewTokens: number;
  /** The prompt template (math tasks). */
  prompt?: string;
  seed: number;
}

export interface EvaluationSummary {
  evalId: string;
  /** What was evaluated: `checkpoint:<runId>@<step>`, `dir:<path>` or `init:<seed>`. */
  model: string;
  /** The checkpoint step evaluated (for a run's checkpoint). */
  step?: number;
  problems: number;
  samples: number;
  /** Mean correctness over all responses (pass@1, averaged over samples). */
  accuracy: number;
  /** Fraction of problems with at least one correct response. */
  passAtK: number;
  meanLength: number;
  /** Standard deviation of the response lengths. */
  lengthStd: number;
  /** Fraction of responses that finished before the length limit. */
  completionRatio: number;
  meanReward: number;
  /** Python snippets run per response (0 without tools), snippets that failed, time in the sandbox. */
  toolCallsPerResponse: number;
  toolErrors: number;
  sandboxSeconds: number;
  key: string;
  /** avg@n, unbiased pass@k and maj@k for every k ≤ n, 95% bootstrap intervals (sampledEvaluation.ts). */
  metrics?: SampledEvaluationMetrics;
  protocol?: EvaluationProtocol;
}
