import { z } from 'zod';
import { checkMathTaskModel, DEFAULT_TASK_QUEUES, modelInitSchema, parseConfig } from './run.ts';
import { deviceKindSchema, taskQueueNameSchema } from './device.ts';
import { nonNegativeInt, positiveInt, runId, seed } from './rules.ts';
import { evalSamplingSchema } from './sampling.ts';
import { taskSchema } from './task.ts';

/**
 * The evaluation config: what the `evaluation` workflow receives (`reasonloop eval`, a Temporal Schedule,
 * or rlTraining every `evalEvery` steps). A model (built, a directory, or a run's checkpoint — the newest
 * verified one when no step is given, which is what a schedule wants), a task's problems, and how to
 * sample: greedy (temperature 0) or sampled pass@1 averaged over `samples` responses per problem.
 */

export const evalModelSchema = z
  .strictObject({
    init: modelInitSchema.optional(),
    dir: z.string({ error: 'must be a path to an HF model directory' }).min(1).optional(),
    /** A run's checkpoint in the store; without `step`, the newest verified one when the evaluation runs. */
    checkpoint: z.strictObject({ runId: runId(), step: nonNegativeInt().optional() }).optional(),
    /**
     * A model served on an OpenAI-compatible endpoint (`reasonloop serve`, or any that returns token ids): `url` is the API base
     * (…/v1), `model` the served name, `tokenizer` a model directory whose config.json and tokenizer files
     * are the served model's (prompts are sent, and responses received, as token ids).
     */
    endpoint: z
      .strictObject({
        url: z.url({
          protocol: /^https?$/,
          error: 'must be an http(s) URL such as http://127.0.0.1:8000/v1',
        }),
        model: z.string({ error: 'must be the served model name' }).min(1),
        tokenizer: z.string({ error: "must be a path to the served model's HF directory" }).min(1),
      })
      .optional(),
  })
  .superRefine((m, ctx) => {
    if ([m.init, m.dir, m.checkpoint, m.endpoint].filter((x) => x !== undefined).length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'must set exactly one of "init", "dir", "checkpoint" or "endpoint"',
      });
    }
  });

export const evaluationConfigSchema = z
  .strictObject({
    /** Names the evaluation: results go under `evals/<evalId>/` in the store. */
    evalId: runId(),
    seed: seed().default(0),
    model: evalModelSchema,
    task: taskSchema,
    sampling: evalSamplingSchema.prefault({}),
    /** Evaluate only the first `limit` problems. */
    limit: positiveInt().optional(),
    store: z.strictObject({ url: z.string({ error: 'must be a store URL' }).min(1) }),
    orchestration: z
      .strictObject({
        taskQueue: taskQueueNameSchema().default(DEFAULT_TASK_QUEUES.rollout),
        /** "cuda": evaluateModel goes to `<taskQueue>-gpu`, which only GPU workers poll (docs/gpu.md). */
        device: deviceKindSchema(),
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
    if (c.task.kind === 'math') checkMathTaskModel(c, ctx);
  });

export type EvaluationConfig = z.output<typeof evaluationConfigSchema>;
export type EvaluationConfigInput = z.input<typeof evaluationConfigSchema>;

export function parseEvaluationConfig(raw: unknown): EvaluationConfig {
  return parseConfig(evaluationConfigSchema, raw, 'evaluation');
}
