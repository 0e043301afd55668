import { z } from 'zod';
import { WEIGHT_DTYPES } from '../model/weightDtype.ts';

/**
 * How an evaluation samples: shared by the evaluation config and the run config's periodic evaluation
 * (kept apart from both so neither imports the other).
 */
const positiveInt = () =>
  z
    .number({ error: 'must be a positive integer' })
    .int({ error: 'must be a positive integer' })
    .min(1, { error: 'must be a positive integer' });

/**
 * Precision of the matrix weights when sampling: "float16" halves the bytes each decode step reads (the
 * GPU's half GEMM accumulates in float32); tokens then differ from float32's where two candidates are
 * within half-precision rounding. Unset: float32 (and absent from a run's identity, as before it existed).
 */
export const weightDtypeSchema = () =>
  z
    .enum(WEIGHT_DTYPES, {
      error: `must be one of ${WEIGHT_DTYPES.map((d) => JSON.stringify(d)).join(', ')}`,
    })
    .optional();

export const evalSamplingSchema = z.strictObject({
  /** Responses per problem; accuracy is their mean (pass@1 averaged), passAtK whether any is correct. */
  samples: positiveInt().default(1),
  /** 0 = greedy (the paper reports greedy and T = 0.6, top-p 0.95 sampled). */
  temperature: z
    .number({ error: 'must be a number ≥ 0' })
    .min(0, { error: 'must be a number ≥ 0' })
    .default(0),
  topP: z
    .number({ error: 'must be a number in (0, 1]' })
    .gt(0, { error: 'must be a number in (0, 1]' })
    .max(1, { error: 'must be a number in (0, 1]' })
    .optional(),
  topK: positiveInt().optional(),
  maxNewTokens: positiveInt().default(512),
  weightDtype: weightDtypeSchema(),
});
