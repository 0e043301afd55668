import { z } from 'zod';
import { optimizerConfigSchema } from './rl.ts';
import {
  modelSchema,
  orchestrationSchema,
  parseConfig,
  positiveInt,
  RUN_ID_FIELD,
  seed,
  storeSchema,
} from './run.ts';
import { mathTaskSchema } from './task.ts';
import { TINY_VOCAB_SIZE } from '../model/tinyTokenizer.ts';

/**
 * The SFT config: what the `sftTraining` workflow receives. Supervised fine-tuning on worked solutions —
 * for synthetic tasks, the traces of core/data/traces.ts — with AdamW, checkpointed every
 * `sft.checkpointEvery` optimizer steps in the same format as RL checkpoints, so an RL run can start from
 * one (`model.checkpoint` of the run config).
 */
export const sftSectionSchema = z.strictObject({
  /** Sequences per optimizer step. */
  batchSize: positiveInt().default(32),
  /** Sequences per forward/backward pass (gradient accumulation when smaller than batchSize). */
  microBatchSize: positiveInt().optional(),
  /**
   * Fraction of training problems whose worked solution forgets every carry (an imperfect teacher): the
   * model imitates the mistake, and RL with a verifier is what can remove it. 0 = a perfect teacher.
   */
  traceErrorRate: z
    .number({ error: 'must be a number in [0, 1]' })
    .min(0, { error: 'must be a number in [0, 1]' })
    .max(1, { error: 'must be a number in [0, 1]' })
    .default(0),
  /**
   * With `task.tools`, the traces call Python and show its output block: true keeps the output out of the
   * loss (the model is not taught to predict what the sandbox prints); the paper did not mask it.
   */
  maskToolOutput: z.boolean({ error: 'must be true or false' }).default(true),
  /** Optimizer steps between checkpoints (one activity runs them, heartbeating after each). */
  checkpointEvery: positiveInt().default(25),
  optimizer: optimizerConfigSchema.prefault({ lr: 1e-5 }),
});

export const sftConfigSchema = z
  .strictObject({
    runId: RUN_ID_FIELD(),
    seed: seed(),
    /** Optimizer steps in all. */
    steps: positiveInt(),
    model: modelSchema,
    /** The problems; only synthetic data has traces to imitate (a file's solutions: not yet). */
    task: mathTaskSchema,
    sft: sftSectionSchema.prefault({}),
    store: storeSchema,
    orchestration: orchestrationSchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.task.data.source !== 'synthetic' || c.task.data.task.kind !== 'arithmetic') {
      ctx.addIssue({
        code: 'custom',
        path: ['task', 'data'],
        message: 'must be synthetic arithmetic: SFT imitates the worked solutions of core/data/traces.ts',
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
export type SftConfigInput = z.input<typeof sftConfigSchema>;

export function parseSftConfig(raw: unknown): SftConfig {
  return parseConfig(sftConfigSchema, raw, 'sft');
}

/** What an SFT checkpoint belongs to (resuming with a different one would train a different model). */
export function sftIdentity(c: SftConfig): Record<string, unknown> {
  return { kind: 'sft', runId: c.runId, seed: c.seed, model: c.model, task: c.task, sft: c.sft };
}
