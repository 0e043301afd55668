import { z } from 'zod';
import { runDevicesSchema, taskQueueNameSchema } from './device.ts';
import { checkCosineHorizon, rlAlgorithmSchema } from './rl.ts';
import { flag, issueLine, nonNegativeInt, positiveInt, runId, seed } from './rules.ts';
import { evalSamplingSchema, policySamplingSchema, weightDtypeSchema } from './sampling.ts';
import { taskSchema } from './task.ts';
import { checkTrainerEngine, trainerSchema } from './trainerEngine.ts';
import { checkRolloutEngine, rolloutEngineSchema } from './rolloutEngine.ts';
import { TINY_VOCAB_SIZE } from '../model/tinyTokenizer.ts';

/**
 * The run config: what `reasonloop train` validates and `rlTraining` receives (the JSON given to
 * `temporal workflow start --input-file`). Composes the `algorithm` section (core/config/rl.ts) with the
 * model, task, rollout, store and orchestration sections. Every object is strict, so a misspelt key is an
 * error naming its path.
 */

/** A tiny Qwen2 built and seeded by the code (tests, demos): HF-style random init from `seed`. */
export const modelInitSchema = z.strictObject({
  seed: seed(),
  config: z.strictObject({
    vocabSize: positiveInt(),
    hiddenSize: positiveInt(),
    intermediateSize: positiveInt(),
    numHiddenLayers: positiveInt(),
    numAttentionHeads: positiveInt(),
    numKeyValueHeads: positiveInt().optional(),
    maxPositionEmbeddings: positiveInt().default(64),
    tieWordEmbeddings: flag().default(true),
    eosTokenId: z.array(nonNegativeInt(), { error: 'must be an array of token ids' }).default([]),
  }),
  /**
   * `tinyBytes`: the byte-level tokenizer of core/model/tinyTokenizer.ts (261 tokens, Qwen's chat special
   * tokens), written into the checkpoint's model directory; needed by text (`math`) tasks.
   */
  tokenizer: z.literal('tinyBytes', { error: 'must be "tinyBytes"' }).optional(),
});

/** The weights of another run's checkpoint in the same store (an SFT run's result, say). */
export const modelCheckpointSchema = z.strictObject({
  runId: runId('must be a run id'),
  step: nonNegativeInt(),
});

/**
 * Exactly one of `init` (built by the code), `dir` (an HF model directory on the workers' disk) or
 * `checkpoint` (another run's checkpoint in this run's store).
 */
export const modelSchema = z
  .strictObject({
    init: modelInitSchema.optional(),
    dir: z.string({ error: 'must be a path to an HF model directory' }).min(1).optional(),
    checkpoint: modelCheckpointSchema.optional(),
  })
  .superRefine((m, ctx) => {
    const set = [m.init, m.dir, m.checkpoint].filter((x) => x !== undefined).length;
    if (set !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'must set exactly one of "init", "dir" or "checkpoint"',
      });
    }
  });

export { TASK_KINDS, taskSchema } from './task.ts';

export const rolloutSchema = z.strictObject({
  /** Prompts per RL step (the paper's 1.5B run: 128). */
  promptsPerStep: positiveInt().default(8),
  /** Responses per prompt, the GRPO group size (the paper: 8). */
  n: positiveInt().default(8),
  maxNewTokens: positiveInt().default(16),
  ...policySamplingSchema.shape,
  /** sampleRollouts activities per step, each a contiguous slice of the step's prompts. */
  shards: positiveInt().default(1),
  weightDtype: weightDtypeSchema(),
  /**
   * DAPO dynamic sampling with refill (verl `filter_groups.max_num_gen_batches`): while fewer than
   * promptsPerStep groups have non-identical rewards, sample up to this many further rounds of
   * promptsPerStep prompts. Needs task.reward.dynamicSampling. Absent = 0: no refill (and absent from a
   * run's identity, as before it existed).
   */
  maxRefillRounds: nonNegativeInt().optional(),
  /**
   * What samples: {kind: "onnx"} (the in-process Generator) or {kind: "openai", endpoints, weightSync}
   * (OpenAI-compatible servers, core/config/rolloutEngine.ts). Absent = "onnx"; not part of the run's identity.
   */
  engine: rolloutEngineSchema.optional(),
});

export const storeSchema = z.strictObject({
  /** `s3://bucket/prefix`, `file:///abs/path` or a folder path; credentials come from the workers' environment. */
  url: z.string({ error: 'must be a store URL (s3://bucket/prefix or a folder path)' }).min(1),
  retention: z
    .strictObject({
      keepLastOptimizerStates: positiveInt().default(2),
      keepWeightsEvery: positiveInt().default(10),
      /**
       * An RL run's rollout records (orchestration.rolloutRecords) of this many newest steps stay, and
       * older ones of multiples of keepWeightsEvery; a step's records are at most a few MB.
       */
      keepLastRolloutRecords: positiveInt().default(50),
    })
    .prefault({}),
});

export { DEFAULT_TASK_QUEUES } from './taskQueues.ts';
import { DEFAULT_TASK_QUEUES } from './taskQueues.ts';

export const orchestrationSchema = z.strictObject({
  /**
   * Continue-as-new after this many steps in one workflow run (Temporal caps a history at 51,200 events;
   * one step is ≈ 8 + 6·shards events, so 200 steps stay far below it).
   */
  continueAsNewEvery: positiveInt().default(200),
  /**
   * A rollout or trainer worker that stops heartbeating for this long is presumed dead and its activity
   * retried elsewhere: long enough for one generate or update call of a large model, short enough that a
   * crash costs little.
   */
  heartbeatTimeoutSeconds: positiveInt().default(60),
  taskQueues: z
    .strictObject({
      rollout: taskQueueNameSchema().default(DEFAULT_TASK_QUEUES.rollout),
      cpu: taskQueueNameSchema().default(DEFAULT_TASK_QUEUES.cpu),
      trainer: taskQueueNameSchema().default(DEFAULT_TASK_QUEUES.trainer),
    })
    .prefault({}),
  /**
   * Which kind of worker samples (`rollout`) and trains (`trainer`): "cuda" sends those activities to
   * `<taskQueues.…>-gpu`, which only GPU workers poll (docs/gpu.md). May change on resume.
   */
  devices: runDevicesSchema.prefault({}),
  /** ORT intra-op threads of every session: pinned, because bit-exact resume is tested per setting. */
  intraOpThreads: positiveInt().default(1),
});

/** An RL run's orchestration: the shared settings, plus what happens to each step's rollouts. */
export const runOrchestrationSchema = orchestrationSchema.extend({
  /**
   * Keep each step's rollouts (`runs/<runId>/rollouts/<step>/`: the sampled responses with their log-probs,
   * and the scored rows) after the step's checkpoint verifies. Nothing reads them again (a resumed step
   * samples anew), so by default they are deleted; keep them to debug a run or audit it for reward hacking
   * by reading what the policy actually wrote, as verl's rollout dumps are used.
   */
  keepRollouts: flag().default(false),
  /**
   * Keep a readable record of every response of every step (text, reward and its parts, correctness, tool
   * calls, advantage, in-loss flag) at `runs/<runId>/records/<step>.json`, whatever keepRollouts says:
   * what `reasonloop rollouts` prints and the report's rollout browser shows. Bounded per response
   * (core/metrics/rolloutRecords.ts) and kept as store.retention.keepLastRolloutRecords says.
   */
  rolloutRecords: flag().default(true),
  /**
   * Which trainer runs updatePolicy: `engine` "onnx" (default, the TypeScript trainer) or "torch" (the
   * PyTorch FSDP2 worker polling `<taskQueues.trainer>-torch`, docs/torch-trainer.md); checkpoint commits
   * stay on the TypeScript trainer either way. May change on resume: both engines read and write the same
   * checkpoints.
   */
  trainer: trainerSchema.prefault({}),
  /**
   * Run each step's reference log-probs, scoring, update and checkpoint as one activity (`trainStep`) on
   * the trainer that holds the run's state: two server round trips per step (sampling, then that) instead
   * of four or five, which is what the orchestration overhead of a small model's step is made of
   * (docs/benchmarks.md, bench:orchestration). The trainer then scores, so it needs what the cpu role
   * does — the task's data and verifier (it already reads the task for the reference log-probs). The same
   * numbers either way. The TypeScript trainer only (trainer.engine "onnx"). May change on resume.
   */
  fusedStep: flag().default(false),
});

export const runConfigSchema = z
  .strictObject({
    /** Also a store prefix and a Temporal workflow id. */
    runId: runId(),
    /** Run seed: sampling, mini-batch shuffles and data order all derive from it. */
    seed: seed(),
    /** Total RL steps (the run is complete when the checkpoint of this step exists). */
    steps: positiveInt(),
    model: modelSchema,
    task: taskSchema.prefault({ kind: 'reverseDigits' }),
    rollout: rolloutSchema.prefault({}),
    algorithm: rlAlgorithmSchema.prefault({}),
    store: storeSchema,
    orchestration: runOrchestrationSchema.prefault({}),
    /**
     * Evaluate every `every` steps, each as a child `evaluation` workflow of the step's checkpoint (it
     * outlives the run). `task` defaults to the run's task, with a synthetic task's held-out split.
     */
    evaluation: z
      .strictObject({
        every: positiveInt(),
        task: taskSchema.optional(),
        sampling: evalSamplingSchema.prefault({}),
        limit: positiveInt().optional(),
      })
      .optional(),
  })
  .superRefine((c, ctx) => {
    checkCosineHorizon(c.algorithm.optimizer, c.steps, ctx, 'algorithm.optimizer');
    checkTrainerEngine(c, ctx);
    if (c.orchestration.fusedStep && c.orchestration.trainer.engine !== 'onnx') {
      ctx.addIssue({
        code: 'custom',
        path: ['orchestration', 'fusedStep'],
        message: `needs orchestration.trainer.engine "onnx": the ${c.orchestration.trainer.engine} trainer serves updatePolicy only`,
        input: c.orchestration.fusedStep,
      });
    }
    checkRolloutEngine(c, ctx);
    const batch = c.rollout.promptsPerStep * c.rollout.n;
    if (c.algorithm.miniBatchSize > batch || batch % c.algorithm.miniBatchSize !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['algorithm', 'miniBatchSize'],
        message: `must divide the rollout batch rollout.promptsPerStep × rollout.n (${batch})`,
        input: c.algorithm.miniBatchSize,
      });
    }
    if ((c.rollout.maxRefillRounds ?? 0) > 0 && (c.task.kind !== 'math' || !c.task.reward.dynamicSampling)) {
      ctx.addIssue({
        code: 'custom',
        path: ['rollout', 'maxRefillRounds'],
        message:
          'refills groups that dynamic sampling drops: needs a math task with task.reward.dynamicSampling: true',
        input: c.rollout.maxRefillRounds,
      });
    }
    if (c.rollout.shards > c.rollout.promptsPerStep) {
      ctx.addIssue({
        code: 'custom',
        path: ['rollout', 'shards'],
        message: `must be at most rollout.promptsPerStep (${c.rollout.promptsPerStep})`,
        input: c.rollout.shards,
      });
    }
    const init = c.model.init?.config;
    if (c.task.kind === 'math') {
      checkMathTaskModel(c, ctx);
    } else if (init) {
      const needed = Math.max(c.task.separatorToken, c.task.eosToken, 9) + 1;
      if (init.vocabSize < needed) {
        ctx.addIssue({
          code: 'custom',
          path: ['model', 'init', 'config', 'vocabSize'],
          message: `must cover the task's tokens (at least ${needed})`,
          input: init.vocabSize,
        });
      }
      const positions = c.task.digits + 1 + c.rollout.maxNewTokens;
      if (init.maxPositionEmbeddings < positions) {
        ctx.addIssue({
          code: 'custom',
          path: ['model', 'init', 'config', 'maxPositionEmbeddings'],
          message: `must hold prompt + rollout.maxNewTokens (${positions} positions)`,
          input: init.maxPositionEmbeddings,
        });
      }
    }
  });

/** A text task needs a tokenizer: a model built by the code must name one and have room for its vocabulary. */
export function checkMathTaskModel(c: RunConfigShape, ctx: z.RefinementCtx): void {
  const init = c.model.init;
  if (!init) return;
  if (init.tokenizer === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['model', 'init', 'tokenizer'],
      message: 'must be "tinyBytes" for a math task (a text task needs a tokenizer)',
    });
  } else if (init.config.vocabSize < TINY_VOCAB_SIZE) {
    ctx.addIssue({
      code: 'custom',
      path: ['model', 'init', 'config', 'vocabSize'],
      message: `must cover the tinyBytes tokenizer (at least ${TINY_VOCAB_SIZE})`,
      input: init.config.vocabSize,
    });
  }
}

type RunConfigShape = {
  model: { init?: z.output<typeof modelInitSchema> };
};

export type RunConfig = z.output<typeof runConfigSchema>;
export type RunConfigInput = z.input<typeof runConfigSchema>;

/** Thrown for a config that does not validate; `issues` are `path: message` lines. */
export class RunConfigError extends Error {
  constructor(
    readonly issues: string[],
    what = 'run',
  ) {
    super(`invalid ${what} config:\n  ${issues.join('\n  ')}`);
    this.name = 'RunConfigError';
  }
}

/**
 * Validates `raw` against `schema` and fills defaults; errors name every offending field under `root`, e.g.
 * `run.rollout.n must be a positive integer (got -4)`. Shared by the run, SFT and evaluation configs.
 */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, root: string): z.output<S> {
  const parsed = schema.safeParse(raw, { reportInput: true });
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => issueLine(issue, root));
  throw new RunConfigError(issues, root);
}

export function parseRunConfig(raw: unknown): RunConfig {
  return parseConfig(runConfigSchema, raw, 'run');
}

/**
 * The part of the config a checkpoint belongs to: resuming with a different model, task, rollout or
 * algorithm would silently train a different run. `steps`, `store` and `orchestration` may change on resume.
 */
export function runIdentity(c: RunConfig): Record<string, unknown> {
  return {
    runId: c.runId,
    seed: c.seed,
    model: c.model,
    task: c.task,
    rollout: rolloutIdentity(c.rollout),
    algorithm: c.algorithm,
  };
}

/** The rollout section less `engine`: where tokens are sampled, as orchestration, may change on resume. */
function rolloutIdentity(rollout: RunConfig['rollout']): Omit<RunConfig['rollout'], 'engine'> {
  const { engine: _engine, ...rest } = rollout;
  return rest;
}
