import { z } from 'zod';
import { checkCosineHorizon, optimizerConfigSchema } from './rl.ts';
import { flag, gradientCheckpointingSchema, nonNegativeInt, positiveInt, probability, runId, seed } from './rules.ts';
import { modelSchema, orchestrationSchema, parseConfig, storeSchema } from './run.ts';
import { mathTaskSchema } from './task.ts';
import { TINY_VOCAB_SIZE } from '../model/tinyTokenizer.ts';

/**
 * The SFT config: what the `sftTraining` workflow receives. Supervised fine-tuning on worked solutions —
 * for synthetic arithmetic, the traces of core/data/traces.ts; otherwise a file of problems with written
 * solutions (`sft.solutions`, core/data/solutions.ts) — with AdamW, checkpointed every
 * `sft.checkpointEvery` optimizer steps in the same format as RL checkpoints, so an RL run can start from
 * one (`model.checkpoint` of the run config).
 */
/**
 * A file of problems with worked solutions (JSONL, a JSON array, or parquet): the problem is the prompt
 * (through `task.prompt`), the solution the response learned, as TRL's SFTTrainer treats prompt/completion
 * rows. Rows without both texts are skipped and counted.
 */
export const solutionsDataSchema = z.strictObject({
  /** A .jsonl, .json or .parquet file on the trainer workers' disk. */
  path: z.string({ error: 'must be a path to a .jsonl, .json or .parquet file' }).min(1, {
    error: 'must be a path to a .jsonl, .json or .parquet file',
  }),
  problemField: z.string({ error: 'must be a field name' }).min(1).default('problem'),
  solutionField: z.string({ error: 'must be a field name' }).min(1).default('solution'),
  idField: z.string({ error: 'must be a field name' }).min(1).optional(),
});

export const sftSectionSchema = z.strictObject({
  /** Sequences per optimizer step. */
  batchSize: positiveInt().default(32),
  /** Sequences per forward/backward pass (gradient accumulation when smaller than batchSize). */
  microBatchSize: positiveInt().optional(),
  /** As algorithm.logProbChunkTokens of the RL config: the NLL over the vocabulary in chunks or slices. */
  logProbChunkTokens: z
    .union([nonNegativeInt(), z.literal('auto')], { error: 'must be a non-negative integer or "auto"' })
    .default('auto'),
  /** As algorithm.gradientCheckpointing of the RL config: recompute each layer's activations in the backward. */
  gradientCheckpointing: gradientCheckpointingSchema().default(false),
  /**
   * Fraction of training problems whose worked solution forgets every carry (an imperfect teacher): the
   * model imitates the mistake, and RL with a verifier is what can remove it. 0 = a perfect teacher.
   */
  traceErrorRate: probability().default(0),
  /**
   * The habit teacher of a `longAddition` task (core/data/habitTraces.ts): the fractions of traces that
   * answer directly and that check their work, and how often a direct answer or a worked pass slips.
   * Absent: DEFAULT_HABIT_RATES. (No default here: configs without it keep their identity hash.)
   */
  habits: z
    .strictObject({
      direct: probability(),
      checked: probability(),
      directErrorRate: probability(),
      workedErrorRate: probability(),
    })
    .refine((h) => h.direct + h.checked <= 1, { error: 'direct + checked must be at most 1' })
    .optional(),
  /**
   * With `task.tools`, the traces call Python and show its output block: true keeps the output out of the
   * loss (the model is not taught to predict what the sandbox prints); the paper did not mask it.
   */
  maskToolOutput: flag().default(true),
  /** Optimizer steps between checkpoints (one activity runs them, heartbeating after each). */
  checkpointEvery: positiveInt().default(25),
  optimizer: optimizerConfigSchema.prefault({ lr: 1e-5 }),
  /** Imitate a file's worked solutions instead of the synthetic traces. */
  solutions: solutionsDataSchema.optional(),
});

/**
 * An RL run's orchestration settings without `trainer`: the SFT steps run on the TypeScript trainer only
 * (the torch trainer serves updatePolicy, not sftSteps). An RL config's `trainer.engine: "torch"` copied
 * into an SFT config is refused with the reason, rather than as an unknown key or, were it accepted, an
 * activity on a queue no worker serves.
 */
const sftOrchestrationSchema = orchestrationSchema.extend({
  trainer: z
    .never({
      error:
        'is an RL run setting: SFT steps run on the TypeScript trainer only (the torch trainer serves updatePolicy, not sftSteps); remove it',
    })
    .optional(),
});

export const sftConfigSchema = z
  .strictObject({
    runId: runId(),
    seed: seed(),
    /** Optimizer steps in all. */
    steps: positiveInt(),
    model: modelSchema,
    /**
     * The prompt template and the problems; without `sft.solutions` only synthetic arithmetic, whose
     * traces are imitated. With it, SFT reads the file and `task.data` is not used for training (name the
     * same problems there, e.g. a `file` source with `solutionField`, so evaluations can share the task).
     */
    task: mathTaskSchema,
    sft: sftSectionSchema.prefault({}),
    store: storeSchema,
    orchestration: sftOrchestrationSchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    checkCosineHorizon(c.sft.optimizer, c.steps, ctx, 'sft.optimizer');
    const { data } = c.task;
    const traced = data.source === 'synthetic' && ['arithmetic', 'longAddition'].includes(data.task.kind);
    if (!c.sft.solutions && !traced) {
      ctx.addIssue({
        code: 'custom',
        path: ['task', 'data'],
        message:
          'must be synthetic arithmetic or longAddition: SFT imitates the worked solutions of core/data/traces.ts',
      });
    }
    if (c.sft.habits && (data.source !== 'synthetic' || data.task.kind !== 'longAddition')) {
      ctx.addIssue({
        code: 'custom',
        path: ['sft', 'habits'],
        message: 'is the habit teacher of a longAddition task: task.data must be synthetic longAddition',
      });
    }
    const micro = c.sft.microBatchSize ?? c.sft.batchSize;
    if (micro > c.sft.batchSize) {
      ctx.addIssue({
        code: 'custom',
        path: ['sft', 'microBatchSize'],
        message: `must be at most sft.batchSize (${c.sft.batchSize})`,
        input: micro,
      });
    }
    const init = c.model.init;
    if (init && init.tokenizer === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'init', 'tokenizer'],
        message: 'must be "tinyBytes" (SFT on text needs a tokenizer)',
      });
    } else if (init && init.config.vocabSize < TINY_VOCAB_SIZE) {
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'init', 'config', 'vocabSize'],
        message: `must cover the tinyBytes tokenizer (at least ${TINY_VOCAB_SIZE})`,
        input: init.config.vocabSize,
      });
    }
  });

export type SftConfig = z.output<typeof sftConfigSchema>;
export type SolutionsDataSpec = z.output<typeof solutionsDataSchema>;
export type SftConfigInput = z.input<typeof sftConfigSchema>;

export function parseSftConfig(raw: unknown): SftConfig {
  return parseConfig(sftConfigSchema, raw, 'sft');
}

/** What an SFT checkpoint belongs to (resuming with a different one would train a different model). */
export function sftIdentity(c: SftConfig): Record<string, unknown> {
  return { kind: 'sft', runId: c.runId, seed: c.seed, model: c.model, task: c.task, sft: c.sft };
}
