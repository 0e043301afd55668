import { z } from 'zod';
import { ADVANTAGE_ESTIMATOR_NAMES } from '../rl/advantages.ts';
import { LOSS_AGG_MODES } from '../rl/aggregation.ts';
import { KL_ESTIMATOR_NAMES } from '../rl/kl.ts';
import { KL_COEF_SCHEDULES } from '../rl/klSchedule.ts';
import { LR_SCHEDULES } from '../rl/lrSchedule.ts';
import { loraConfigSchema } from './lora.ts';
import {
  aboveOne,
  flag,
  gradientCheckpointingSchema,
  issueText,
  nonNegative,
  nonNegativeInt,
  oneOf,
  positive,
  positiveInt,
  probability,
  unitInterval,
  unknownKeysText,
} from './rules.ts';

/**
 * The `algorithm` section of the run config: every RL knob of the STILL-3 study. Defaults are the
 * paper's 1.5B run (DESIGN.md §6) unless a field says otherwise; its Zero runs differ where noted.
 * Enum values are exactly the keys of the registries in core/rl/, so a config string selects a function.
 */

/** Where the KL to the reference acts: per-token reward shaping, a loss term, or nowhere. */
export const KL_PLACEMENTS = ['reward', 'loss', 'none'] as const;

export const advantageConfigSchema = z.strictObject({
  /** GRPO group normalisation (both STILL-3 runs). */
  estimator: oneOf(ADVANTAGE_ESTIMATOR_NAMES).default('grpo'),
  /** ε in (r − mean)/(std + ε): 1e-8 (STILL-3; verl uses 1e-6). */
  epsilon: positive().default(1e-8),
  /** EMA decay of the running baseline (reinforceBaseline only); absent = cumulative mean. */
  baselineDecay: unitInterval().optional(),
  /** γ of REINFORCE++'s per-token return-to-go (reinforcePlusPlus only); absent = 1, verl's default. */
  gamma: probability().optional(),
});

export const klConfigSchema = z.strictObject({
  /** k1 (1.5B run, in the reward); the Zero runs use k3 as a loss. */
  estimator: oneOf(KL_ESTIMATOR_NAMES).default('k1'),
  /** "reward" (1.5B run) | "loss" (Zero runs) | "none". */
  placement: oneOf(KL_PLACEMENTS).default('reward'),
  /** β = 0.001 (both runs). */
  coef: nonNegative().default(0.001),
  /** "constant" (1.5B run); the Zero runs optionally use "cosine". */
  schedule: oneOf(KL_COEF_SCHEDULES).default('constant'),
  /** RL steps for the cosine to reach 0: 500 (Zero runs). */
  annealSteps: positiveInt().default(500),
  /** Replace the reference by the policy every M steps; 0 = never. The paper did it by hand, no period given. */
  refreshReferenceEvery: nonNegativeInt().default(0),
});

export const clipConfigSchema = z.strictObject({
  /** ε_low = 0.2 (PPO-clip ε, both runs). */
  low: unitInterval().default(0.2),
  /** ε_high = 0.2 (no clip-higher in STILL-3; DAPO uses 0.28). */
  high: nonNegative().default(0.2),
  /** Dual-clip constant c > 1 (verl default 3); absent = off (STILL-3 does not mention one). */
  dualClip: aboveOne().optional(),
});

export const optimizerConfigSchema = z.strictObject({
  /** Peak learning rate 2e-6 (1.5B run). */
  lr: positive().default(2e-6),
  /** "constant": §6 names no schedule. */
  schedule: oneOf(LR_SCHEDULES).default('constant'),
  /** Linear warm-up RL steps (ignored by "constant"). */
  warmupSteps: nonNegativeInt().default(0),
  /** Cosine floor as a fraction of lr (warmupCosine). */
  minLrRatio: probability().default(0),
  /** Step where the cosine bottoms out; absent = the run's total steps. */
  decaySteps: positiveInt().optional(),
  /** AdamW decoupled weight decay: 0.01 (verl's actor default; §6 names none). */
  weightDecay: nonNegative().default(0.01),
  /** Global gradient-norm clip: 1.0 (verl's actor grad_clip; §6 names none). */
  maxGradNorm: positive().default(1.0),
  /** Adam β1, β2: torch's defaults (0.9, 0.999). */
  betas: z
    .tuple([unitInterval(), unitInterval()], { error: 'must be a pair [β1, β2] of numbers in [0, 1)' })
    .default([0.9, 0.999]),
  /** Adam ε: torch's default 1e-8. */
  eps: positive().default(1e-8),
});

/**
 * warmupCosine without decaySteps decays over the run's own steps, so they must outlast the warm-up;
 * caught with the config, not by the first optimizer step (which would fail the same way on every retry).
 */
export function checkCosineHorizon(
  optimizer: z.output<typeof optimizerConfigSchema>,
  steps: number,
  ctx: z.RefinementCtx,
  optimizerPath: string,
): void {
  if (optimizer.schedule !== 'warmupCosine' || optimizer.decaySteps !== undefined) return;
  if (steps > optimizer.warmupSteps) return;
  ctx.addIssue({
    code: 'custom',
    path: ['steps'],
    message:
      `must be above ${optimizerPath}.warmupSteps (${optimizer.warmupSteps}): warmupCosine decays over ` +
      `the run's steps (or set ${optimizerPath}.decaySteps)`,
    input: steps,
  });
}

export const rlAlgorithmSchema = z
  .strictObject({
    advantage: advantageConfigSchema.prefault({}),
    kl: klConfigSchema.prefault({}),
    clip: clipConfigSchema.prefault({}),
    /** "seq-mean-token-mean": per-sequence token mean, then batch mean (1.5B run); Zero runs: "token-mean". */
    lossAgg: oneOf(LOSS_AGG_MODES).default('seq-mean-token-mean'),
    /** Normaliser of "seq-mean-token-sum-norm"; absent = the rollout's max new tokens. */
    lossAggMaxLength: positiveInt().optional(),
    /** Entropy bonus coefficient: 0 (Zero runs; the paper found it hard to tune). */
    entropyCoef: nonNegative().default(0),
    /** PPO epochs per rollout batch: 1 (both runs). */
    epochs: positiveInt().default(1),
    /**
     * Responses per optimizer step: 512 = the 1.5B run's 128 prompts × 8 responses over its 2 optimizer
     * steps per batch. The Zero runs set it to the whole batch (strictly on-policy).
     */
    miniBatchSize: positiveInt().default(512),
    /** Responses per forward/backward (gradient accumulation; memory only, not the math). */
    microBatchSize: positiveInt().default(8),
    /**
     * Tokens per chunk when the trainer computes log-probs and entropies over the vocabulary (the lm_head
     * product, log-softmax and gather fused per chunk, backward too), so a [tokens, vocab] float32 block
     * never exists whole; 0 = unchunked. "auto", for vocabularies of 32,768 words or more: slices of the
     * vocabulary instead of token chunks (its largest divisor up to 4,800 words: 4,748 at Qwen2.5's 151,936),
     * or, when it has no divisor from 1,024 up, chunks of 256 MiB of logits; unchunked below 32,768 words.
     * Memory and speed only, not the math (tokenLogProbs.ts logProbChunking).
     */
    logProbChunkTokens: z
      .union([nonNegativeInt(), z.literal('auto')], { error: 'must be a non-negative integer or "auto"' })
      .default('auto'),
    /**
     * Recompute each decoder layer's activations in the backward instead of keeping them from the forward
     * (gradient checkpointing; verl's enable_gradient_checkpointing): activation memory of about one layer
     * instead of all, for about one more forward pass. "selective" keeps each layer's projections (q, k, v,
     * o, gate, up: Megatron-LM's selective recomputation) and recomputes the rest, for ≈ 1.3 GB more at
     * Qwen2.5-0.5B's width per 1,184 tokens of micro-batch and no matmul of the layers re-run. Memory and
     * time only: the gradients are the same bits either way (docs/model.md).
     */
    gradientCheckpointing: gradientCheckpointingSchema().default(false),
    /** Shuffle rows before cutting mini-batches, seeded by the run seed and step. */
    shuffle: flag().default(true),
    optimizer: optimizerConfigSchema.prefault({}),
    /** LoRA adapters (core/model/lora.ts): absent = full-parameter training. */
    lora: loraConfigSchema.optional(),
    /**
     * The loss's old log-probs (and the KL's policy log-probs) recomputed by a forward pass of the policy of
     * step − 1 when the step is scored, instead of the sampler's (verl's recompute of old_log_prob): what a
     * server engine returns is the engine's, and may differ in the last bits. The step's metrics show the
     * difference (oldLogprobDiffMean, oldLogprobDiffMax). Absent = false (and absent from a run's identity).
     */
    recomputeOldLogprobs: flag().optional(),
  })
  .superRefine((c, ctx) => {
    if (c.microBatchSize > c.miniBatchSize || c.miniBatchSize % c.microBatchSize !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['microBatchSize'],
        message: `must divide miniBatchSize (${c.miniBatchSize})`,
        input: c.microBatchSize,
      });
    }
    if (c.optimizer.schedule !== 'constant' && c.optimizer.decaySteps !== undefined) {
      if (c.optimizer.decaySteps <= c.optimizer.warmupSteps) {
        ctx.addIssue({
          code: 'custom',
          path: ['optimizer', 'decaySteps'],
          message: `must be above optimizer.warmupSteps (${c.optimizer.warmupSteps})`,
          input: c.optimizer.decaySteps,
        });
      }
    }
    if (c.clip.low > c.clip.high) {
      // The trust region [1 − ε_low, 1 + ε_high] is widened upwards (DAPO's clip-higher), never the reverse.
      ctx.addIssue({
        code: 'custom',
        path: ['clip', 'low'],
        message: `must be at most clip.high (${c.clip.high})`,
        input: c.clip.low,
      });
    }
    if (c.advantage.baselineDecay !== undefined && c.advantage.estimator !== 'reinforceBaseline') {
      ctx.addIssue({
        code: 'custom',
        path: ['advantage', 'baselineDecay'],
        message: `only applies to estimator "reinforceBaseline" (estimator is "${c.advantage.estimator}")`,
        input: c.advantage.baselineDecay,
      });
    }
    if (c.advantage.gamma !== undefined && c.advantage.estimator !== 'reinforcePlusPlus') {
      ctx.addIssue({
        code: 'custom',
        path: ['advantage', 'gamma'],
        message: `only applies to estimator "reinforcePlusPlus" (estimator is "${c.advantage.estimator}")`,
        input: c.advantage.gamma,
      });
    }
    if (c.lora?.baseDtype === 'float16' && !c.gradientCheckpointing) {
      // Without per-layer recomputation the backward would keep every layer's float32 cast of the base
      // from the forward: more memory than the float32 base, not less.
      ctx.addIssue({
        code: 'custom',
        path: ['lora', 'baseDtype'],
        message:
          'float16 needs gradientCheckpointing: true (each layer re-makes its float32 casts in the backward)',
        input: c.lora.baseDtype,
      });
    }
  });

/** The parsed section, defaults filled in. */
export type RlAlgorithmConfig = z.output<typeof rlAlgorithmSchema>;
/** What a user may write (every field optional). */
export type RlAlgorithmConfigInput = z.input<typeof rlAlgorithmSchema>;

/** One line per problem: `algorithm.clip.low must be a number in [0, 1) (got 1.5)`. */
export function formatConfigIssues(issues: readonly z.core.$ZodIssue[], where: string): string[] {
  return issues.map((issue) => {
    const path = [where, ...issue.path.map(String)].filter((p) => p !== '').join('.');
    if (issue.code === 'unrecognized_keys') {
      return `${path} has ${unknownKeysText(issue.keys)}`;
    }
    return `${path} ${issueText(issue)}`;
  });
}

/** Parse the algorithm section; throws an Error listing every problem with its full path. */
export function parseRlAlgorithmConfig(input: unknown, where = 'algorithm'): RlAlgorithmConfig {
  const result = rlAlgorithmSchema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return result.data;
  throw new Error(`invalid ${where}:\n  ${formatConfigIssues(result.error.issues, where).join('\n  ')}`);
}
