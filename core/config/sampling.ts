import { z } from 'zod';
import { WEIGHT_DTYPES } from '../model/weightDtype.ts';
import { nonNegative, positive, positiveInt } from './rules.ts';

/**
 * How tokens are drawn, wherever a config samples: the run's rollouts (and what setHyperParameters may
 * change mid-run), evaluations, and the difficulty filter. Kept apart from the configs that use it, and
 * free of Node modules, so workflow code can validate an update with the rollout's own rules.
 */

/** top-p, top-k and a temperature: the sampling fields every section shares, with its temperature rule. */
function samplingShape<T extends z.ZodType>(temperature: T) {
  return {
    temperature,
    /** Nucleus sampling: the smallest set of tokens whose probability reaches topP; absent = no truncation. */
    topP: z
      .number({ error: 'must be a number in (0, 1]' })
      .gt(0, { error: 'must be a number in (0, 1]' })
      .max(1, { error: 'must be a number in (0, 1]' })
      .optional(),
    topK: positiveInt().optional(),
  };
}

/**
 * How the policy samples during RL: 1.0 (the paper's 1.5B run). Greedy decoding is not allowed: the loss
 * scores tokens under π/T with the same T.
 */
export const policySamplingSchema = z.strictObject(samplingShape(positive().default(1)));

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

/** Sampling k responses per problem (greedy when temperature is 0), with a section's defaults. */
export function problemSamplingShape(defaults: {
  samples: number;
  temperature: number;
  maxNewTokens: number;
}) {
  return {
    /** Responses per problem (n): accuracy is avg@n, passAtK whether any is correct; pass@k, maj@k for k ≤ n. */
    samples: positiveInt().default(defaults.samples),
    ...samplingShape(nonNegative().default(defaults.temperature)),
    maxNewTokens: positiveInt().default(defaults.maxNewTokens),
    weightDtype: weightDtypeSchema(),
  };
}

/**
 * How an evaluation samples: shared by the evaluation config and the run config's periodic evaluation.
 * 0 = greedy (the paper reports greedy and T = 0.6, top-p 0.95 sampled).
 */
export const evalSamplingSchema = z.strictObject(
  problemSamplingShape({ samples: 1, temperature: 0, maxNewTokens: 512 }),
);
