import { z } from 'zod';
import { deviceKindSchema, taskQueueNameSchema } from './device.ts';
import { evalModelSchema } from './evaluation.ts';
import { positiveInt, probability, runId, seed } from './rules.ts';
import { checkMathTaskModel, parseConfig } from './run.ts';
import { problemSamplingShape } from './sampling.ts';
import { mathTaskSchema } from './task.ts';
import { DEFAULT_TASK_QUEUES } from './taskQueues.ts';

/**
 * The difficulty-filter config: what the `difficultyFilter` workflow receives (`reasonloop filter`). A
 * model (built, a directory, or a run's checkpoint — the newest verified one when no step is given), a
 * math task (its data, prompt template and verifier), k samples per problem, and the keep band on the
 * pass rate. STILL-3 (arXiv 2503.04548) kept the problems whose pass rate was neither 0 nor 1.
 */

/** Responses per problem: the RL group size of the paper's 1.5B run (n = 8). */
export const DEFAULT_FILTER_SAMPLES = 8;
/** The policy's sampling temperature during RL (the paper's 1.5B run: 1.0). */
export const DEFAULT_FILTER_TEMPERATURE = 1;
/** As evaluation's default response limit. */
export const DEFAULT_FILTER_MAX_NEW_TOKENS = 512;
/** Problems per rollout activity: a few generate calls, each a heartbeat apart. */
export const DEFAULT_PROBLEMS_PER_SHARD = 64;

/** k samples per problem: a problem's pass rate is its correct responses / k. */
export const filterSamplingSchema = z.strictObject(
  problemSamplingShape({
    samples: DEFAULT_FILTER_SAMPLES,
    temperature: DEFAULT_FILTER_TEMPERATURE,
    maxNewTokens: DEFAULT_FILTER_MAX_NEW_TOKENS,
  }),
);

export const difficultyFilterConfigSchema = z
  .strictObject({
    /** Names the output: results go under `filters/<filterId>/` in the store. */
    filterId: runId(),
    seed: seed().default(0),
    model: evalModelSchema,
    task: mathTaskSchema,
    sampling: filterSamplingSchema.prefault({}),
    /** Keep problems whose pass rate is at least this (inclusive); unset: drop only rate 0. */
    minPassRate: probability().optional(),
    /** Keep problems whose pass rate is at most this (inclusive); unset: drop only rate 1. */
    maxPassRate: probability().optional(),
    /** Filter only the first `limit` problems of the data. */
    limit: positiveInt().optional(),
    store: z.strictObject({ url: z.string({ error: 'must be a store URL' }).min(1) }),
    orchestration: z
      .strictObject({
        taskQueues: z
          .strictObject({
            rollout: taskQueueNameSchema().default(DEFAULT_TASK_QUEUES.rollout),
            cpu: taskQueueNameSchema().default(DEFAULT_TASK_QUEUES.cpu),
          })
          .prefault({}),
        /** `rollout: "cuda"`: the shards go to `<taskQueues.rollout>-gpu`, which only GPU workers poll. */
        devices: z.strictObject({ rollout: deviceKindSchema() }).prefault({}),
        problemsPerShard: positiveInt().default(DEFAULT_PROBLEMS_PER_SHARD),
        heartbeatTimeoutSeconds: positiveInt().default(60),
        intraOpThreads: positiveInt().default(1),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.sampling.temperature === 0 && c.sampling.samples > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['sampling', 'samples'],
        message: 'must be 1 with greedy decoding (temperature 0): every sample would be the same',
        input: c.sampling.samples,
      });
    }
    if (c.minPassRate !== undefined && c.maxPassRate !== undefined && c.minPassRate > c.maxPassRate) {
      ctx.addIssue({
        code: 'custom',
        path: ['minPassRate'],
        message: `must not exceed maxPassRate (${c.maxPassRate})`,
        input: c.minPassRate,
      });
    }
    if (c.task.data.source === 'synthetic' && c.task.data.task.kind === 'countdown') {
      // Countdown answers are checked against the given numbers, which a filtered dataset's row lacks.
      ctx.addIssue({
        code: 'custom',
        path: ['task', 'data', 'task', 'kind'],
        message: 'must not be "countdown": the filtered rows (problem, answer) cannot carry its numbers',
      });
    }
    checkMathTaskModel(c, ctx);
  });

export type DifficultyFilterConfig = z.output<typeof difficultyFilterConfigSchema>;
export type DifficultyFilterConfigInput = z.input<typeof difficultyFilterConfigSchema>;

export function parseDifficultyFilterConfig(raw: unknown): DifficultyFilterConfig {
  return parseConfig(difficultyFilterConfigSchema, raw, 'filter');
}
