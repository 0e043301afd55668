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
}
