import { z } from 'zod';
import {
  benchmarkDataSchema,
  fileDataSchema,
  promptSchema,
  rewardSchema,
  storeDataSchema,
  syntheticDataSchema,
} from './reward.ts';
import { flag, nonNegativeInt, positiveInt } from './rules.ts';

/**
 * The task a run trains on. `reverseDigits` is a token-level task for tests (no tokenizer). `math` is the
 * paper's setting: problems from a file, a benchmark or a synthetic generator, a prompt template, a
 * tokenizer from the model, and the reward of core/reward (verifier + STILL/zero reward + length strategy).
 */

/**
 * `reverseDigits`: the prompt is `digits` digit tokens (ids 0–9) and a separator; the answer is the digits
 * reversed, then EOS; the reward is the fraction of that target reproduced position by position.
 */
export const reverseDigitsTaskSchema = z.strictObject({
  kind: z.literal('reverseDigits'),
  /** Digits per prompt: the dataset is every number with this many digits (10^digits problems). */
  digits: positiveInt().max(6, { error: 'must be at most 6 (10^6 problems)' }).default(2),
  separatorToken: nonNegativeInt().default(10),
  eosToken: nonNegativeInt().default(11),
});

export const taskDataSchema = z.discriminatedUnion('source', [
  fileDataSchema,
  storeDataSchema,
  benchmarkDataSchema,
  syntheticDataSchema,
]);

/**
 * Tool use (the paper's protocol, core/tools): a ```python block ends a turn, the sandbox runs it, and its
 * output is inserted as a ```output block the policy never sampled (so the loss never scores it).
 */
export const toolsSchema = z.strictObject({
  backend: z.enum(['pyodide', 'python3'], { error: 'must be "pyodide" or "python3"' }).default('pyodide'),
  /** Calls per response; later code blocks get a "limit reached" block instead of running. */
  maxCalls: nonNegativeInt().default(4),
  /** Wall-clock limit of one snippet (the sandbox's default, 5 s). */
  timeoutMs: positiveInt().default(5000),
  /** Characters of output shown (the paper: 400). */
  outputChars: positiveInt().default(400),
  /** false: the paper's "code written but not run" arm — code blocks end turns, nothing runs. */
  execute: flag().default(true),
  /** Warm sandbox processes per worker. */
  poolSize: positiveInt().default(2),
});

export const mathTaskSchema = z.strictObject({
  kind: z.literal('math'),
  data: taskDataSchema,
  prompt: promptSchema.prefault({}),
  reward: rewardSchema.prefault({}),
  tools: toolsSchema.optional(),
});

export const TASK_KINDS = ['reverseDigits', 'math'] as const;

export const taskSchema = z.discriminatedUnion('kind', [reverseDigitsTaskSchema, mathTaskSchema], {
  error: `must have a "kind" of ${TASK_KINDS.map((k) => JSON.stringify(k)).join(' or ')}`,
});

export type TaskConfig = z.output<typeof taskSchema>;
export type ReverseDigitsTask = z.output<typeof reverseDigitsTaskSchema>;
export type MathTask = z.output<typeof mathTaskSchema>;
export type ToolsConfig = z.output<typeof toolsSchema>;

/** A synthetic task's held-out split (what a run is evaluated on by default); other tasks as they are. */
export function heldOutTask(task: TaskConfig): TaskConfig {
  if (task.kind !== 'math' || task.data.source !== 'synthetic') return task;
  return { ...task, data: { ...task.data, split: 'heldOut' } };
}
