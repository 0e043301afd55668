/** What the reward functions know about one sampled response. */
export interface ResponseInfo {
  /** The generated text (without the prompt). */
  text: string;
  /** Length in tokens. */
  length: number;
  /** Generation hit the length limit before finishing. */
  truncated: boolean;
  /** The verifier judged the final answer equal to the gold answer. */
  correct: boolean;
  /** The response contains a (closed) `\boxed{}` answer. */
  hasBoxed: boolean;
}
