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

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}` });

/** A run id (also a store prefix and a Temporal workflow id); evaluation and filter ids follow it too. */
export const runId = (typeError = 'must be a string') =>
  z.string({ error: typeError }).regex(RUN_ID_PATTERN, {
    error: "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
  });
