/**
 * The field rules every config schema is built from, each with the one message a user sees when a value
 * breaks it (`run.rollout.n must be a positive integer (got -4)`). Dependency-free but for zod and the
 * run-id pattern: workflow code validates setHyperParameters with these rules inside Temporal's bundle.
 */
import { z } from 'zod';
import { RUN_ID_PATTERN } from '../store/keys.ts';

/** A number whose every failure reads `must be <rule>`. */
const numberThat = (rule: string) => z.number({ error: `must be ${rule}` });

export const positive = () => numberThat('a number > 0').positive({ error: 'must be a number > 0' });
export const nonNegative = () => numberThat('a number ≥ 0').min(0, { error: 'must be a number ≥ 0' });
/** A number above 1 (PPO's dual-clip constant). */
export const aboveOne = () => numberThat('a number > 1').gt(1, { error: 'must be a number > 1' });

/** [0, 1): a decay, a clip ε, an Adam β. */
export const unitInterval = () =>
  numberThat('a number in [0, 1)')
    .min(0, { error: 'must be a number in [0, 1)' })
    .lt(1, { error: 'must be a number in [0, 1)' });

/** [0, 1]: a rate or a fraction. */
export const probability = () =>
  numberThat('a number in [0, 1]')
    .min(0, { error: 'must be a number in [0, 1]' })
    .max(1, { error: 'must be a number in [0, 1]' });

export const positiveInt = () =>
  numberThat('a positive integer')
    .int({ error: 'must be a positive integer' })
    .min(1, { error: 'must be a positive integer' });

export const nonNegativeInt = () =>
  numberThat('an integer ≥ 0')
    .int({ error: 'must be an integer ≥ 0' })
    .min(0, { error: 'must be an integer ≥ 0' });

/** Seeds feed 32-bit counter-based RNGs (Philox keys, mix32), so they must fit in a uint32. */
const MAX_SEED = 2 ** 32 - 1;
export const seed = () => nonNegativeInt().max(MAX_SEED, { error: `must be an integer in [0, ${MAX_SEED}]` });

export const flag = () => z.boolean({ error: 'must be true or false' });

/** Per-layer recomputation: off, every layer's values (true), or all but its projections ("selective"). */
export const gradientCheckpointingSchema = () =>
  z.union([z.boolean(), z.literal('selective')], { error: 'must be true, false or "selective"' });

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}` });

/** A run id (also a store prefix and a Temporal workflow id); evaluation and filter ids follow it too. */
export const runId = (typeError = 'must be a string') =>
  z.string({ error: typeError }).regex(RUN_ID_PATTERN, {
    error: "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
  });

/** Longest echo of a user's value in a message: enough to recognise it, never a 50 MB line back. */
export const MAX_SHOWN_VALUE_CHARS = 80;

/**
 * A user's value as a message shows it: non-finite numbers by name (JSON would print `null`), strings and
 * numbers as JSON, cut to MAX_SHOWN_VALUE_CHARS with "…". Objects and arrays are not shown (undefined).
 */
export function shownValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'object' && value !== null) return undefined;
  return truncateText(JSON.stringify(value) ?? String(value));
}

/** `text` cut to `max` characters, the cut marked with "…". */
export function truncateText(text: string, max = MAX_SHOWN_VALUE_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * One zod issue as the line a user reads, after the field's path: a missing key `is required` (zod's own
 * words are "expected object, received undefined"), unknown keys listed, otherwise the rule's message and
 * the offending value (`must be a positive integer (got Infinity)`).
 */
export function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return unknownKeysText(issue.keys);
  const hasInput = 'input' in issue;
  if (issue.code === 'invalid_type' && hasInput && issue.input === undefined) return 'is required';
  const shown = hasInput ? shownValue(issue.input) : undefined;
  return `${issue.message}${shown !== undefined ? ` (got ${shown})` : ''}`;
}

/** `unknown keys "a", "b"` (each cut to MAX_SHOWN_VALUE_CHARS). */
export function unknownKeysText(keys: readonly string[]): string {
  return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => truncateText(JSON.stringify(k))).join(', ')}`;
}

/**
 * `run.rollout.n must be a positive integer (got -4)`, `run.store is required`, `run.task: unknown key
 * "x"`: the issue under `root` (the config's name).
 */
export function issueLine(issue: z.core.$ZodIssue, root: string): string {
  const path = [root, ...issue.path.map(String)].filter((p) => p !== '').join('.');
  return `${path}${issue.code === 'unrecognized_keys' ? ':' : ''} ${issueText(issue)}`;
}
