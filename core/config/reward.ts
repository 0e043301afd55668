/**
 * Zod schemas for the reward, data and prompt sections of a run config. Exported separately so the run
 * schema can compose them (`reward: rewardSchema, data: dataSchema, prompt: promptSchema`). Enum values are
 * exactly the registry keys of core/reward and core/data.
 */
import { z } from 'zod';
import { BENCHMARK_NAMES, type BenchmarkName } from '../data/benchmarks.ts';
import { DEFAULT_TIME_LIMIT_MS } from '../reward/verify/limits.ts';
import { positiveInt } from './rules.ts';

export const verifierSchema = z
  .object({
    /** Which notations to extract: LaTeX (\boxed, $…$), plain numbers/expressions, or both. */
    mode: z.enum(['latex', 'expr', 'latex+expr']).default('latex+expr'),
    /** Decimal places numbers must agree to (Math-Verify's default 6). */
    precision: z.number().int().min(0).max(15).default(6),
    /** Per-comparison time limit in milliseconds. */
    timeLimitMs: positiveInt().default(DEFAULT_TIME_LIMIT_MS),
    /** Use the last plain number of a response that has no marked answer. */
    lastNumberFallback: z.boolean().default(false),
  })
  .strict();

export const dapoOverlongSchema = z
  .object({
    /** Lmax: the generation limit in tokens. */
    maxLength: positiveInt(),
    /** Lcache: the soft-penalty window before Lmax (DAPO used 4096 of 20480). */
    cacheLength: positiveInt(),
    factor: z.number().positive().default(1),
  })
  .strict()
  .refine((d) => d.cacheLength <= d.maxLength, {
    message: 'reward.dapoOverlong.cacheLength must not exceed maxLength',
  });

export const rewardSchema = z
  .object({
    /**
     * `still15b`: +1/−1/−2 (no \boxed); `zero`: format gate × correctness (1/0); `correctness`: 1/0 on the
     * verifier alone.
     */
    kind: z.enum(['still15b', 'zero', 'correctness']).default('still15b'),
    correct: z.number().default(1),
    wrong: z.number().default(-1),
    noBoxed: z.number().default(-2),
    /** How still15b scores a response cut off at the length limit. */
    truncated: z.enum(['score', 'wrong', 'zero']).default('score'),
    /** The prompt ends with `<think>` (R1-Zero template): the gate prepends it. */
    thinkOpenedInPrompt: z.boolean().default(true),
    lengthStrategy: z.enum(['none', 'qs', 'rs', 'rrl', 'rra', 'orm']).default('none'),
    /** Lmax for RRL (defaults to the rollout's max new tokens when the run schema composes them). */
    rrlMaxLength: positiveInt().optional(),
    dapoOverlong: dapoOverlongSchema.optional(),
    /** Drop groups whose rewards are all equal (DAPO dynamic sampling). */
    dynamicSampling: z.boolean().default(false),
    verifier: verifierSchema.default(verifierSchema.parse({})),
  })
  .strict();

const fieldsShape = {
  problemField: z.string().min(1).default('problem'),
  answerField: z.string().min(1).optional(),
  solutionField: z.string().min(1).optional(),
  idField: z.string().min(1).optional(),
  answerFormat: z.enum(['plain', 'gsm8k', 'boxed']).default('plain'),
};

export const fileDataSchema = z
  .object({
    source: z.literal('file'),
    /** A .jsonl, .json (an array of objects, or JSON Lines) or .parquet file. */
    path: z.string().min(1),
    ...fieldsShape,
    dedupe: z.boolean().default(true),
  })
  .strict()
  .refine((d) => d.answerField !== undefined || d.solutionField !== undefined, {
    message: 'data needs answerField or solutionField',
  });

/** A problem file in an object store, e.g. a difficulty filter's `filtered.jsonl` (core/data/storeData.ts). */
export const storeDataSchema = z
  .object({
    source: z.literal('store'),
    /** The store: `s3://bucket/prefix`, `file:///abs/path` or a folder path. */
    url: z.string().min(1),
    /** The object's key; .jsonl, .json or .parquet. */
    key: z.string().min(1),
    ...fieldsShape,
    dedupe: z.boolean().default(true),
  })
  .strict()
  .refine((d) => d.answerField !== undefined || d.solutionField !== undefined, {
    message: 'data needs answerField or solutionField',
  });

export const benchmarkDataSchema = z
  .object({
    source: z.literal('benchmark'),
    name: z.enum(BENCHMARK_NAMES as [BenchmarkName, ...BenchmarkName[]]),
  })
  .strict();

export const syntheticDataSchema = z
  .object({
    source: z.literal('synthetic'),
    task: z.discriminatedUnion('kind', [
      z
        .object({
          kind: z.literal('arithmetic'),
          knobs: z
            .object({
              digits: z.number().int().min(1).max(12),
              terms: z.number().int().min(2).max(8),
              ops: z.array(z.enum(['+', '-', '*'])).min(1),
            })
            .strict(),
        })
        .strict(),
      z
        .object({
          kind: z.literal('longAddition'),
          knobs: z
            .object({
              digits: z.number().int().min(2).max(12),
              minCarries: z.number().int().min(0).max(11),
            })
            .strict(),
        })
        .strict(),
      z
        .object({
          kind: z.literal('linear'),
          knobs: z
            .object({
              maxCoefficient: z.number().int().min(1),
              maxSolution: z.number().int().min(0),
              fractional: z.boolean(),
            })
            .strict(),
        })
        .strict(),
      z
        .object({
          kind: z.literal('countdown'),
          knobs: z
            .object({ count: z.number().int().min(2).max(6), maxNumber: z.number().int().min(1) })
            .strict(),
        })
        .strict(),
    ]),
    /** How many tasks make one epoch (the training split). */
    size: positiveInt(),
    seed: z.number().int().min(0).default(0),
    /**
     * `train`: tasks 0…size−1 of `seed`. `heldOut`: `heldOutSize` tasks drawn from a derived seed, none of
     * them equal to a training task (core/data/splits.ts), for evaluation.
     */
    split: z.enum(['train', 'heldOut']).default('train'),
    heldOutSize: positiveInt().default(256),
  })
  .strict();

export const dataSchema = z.object({
  train: z.discriminatedUnion('source', [
    fileDataSchema,
    storeDataSchema,
    benchmarkDataSchema,
    syntheticDataSchema,
  ]),
  /** Seed of the per-epoch shuffle (the cursor's seed). */
  shuffleSeed: z.number().int().min(0).default(0),
});

export const promptSchema = z
  .object({
    template: z.enum(['chat', 'r1-zero', 'long', 'plain']).default('chat'),
    /** Optional system message for the chat and long templates. */
    system: z.string().optional(),
  })
  .strict();

export type RewardConfig = z.infer<typeof rewardSchema>;
export type DataConfig = z.infer<typeof dataSchema>;
export type PromptConfig = z.infer<typeof promptSchema>;
export type VerifierConfig = z.infer<typeof verifierSchema>;
