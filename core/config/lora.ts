/**
 * `algorithm.lora`: PEFT's LoraConfig fields as verl spells them (lora_rank, lora_alpha, target_modules).
 * Present = only the adapters train; the base weights stay as loaded. Dropout on the LoRA branch is
 * refused above 0: the trainer has no seeded dropout yet, and an unseeded one would break the bit-identical
 * resume every run promises (0 is also the usual RL setting: verl's and TRL's GRPO examples use it).
 */
import { z } from 'zod';
import { ALL_LINEAR, LORA_TARGET_MODULES, type LoraTargetModule } from '../model/lora.ts';
import { positive, positiveInt, probability } from './rules.ts';
import { weightDtypeSchema } from './sampling.ts';

export const loraConfigSchema = z.strictObject({
  /** r: the adapters' inner dimension. */
  rank: positiveInt(),
  /** lora_alpha: the branch is scaled by alpha / rank; 16 as verl's default. */
  alpha: positive().default(16),
  dropout: probability()
    .refine((p) => p === 0, {
      error:
        'must be 0: LoRA dropout is not implemented (a seeded one would be needed for bit-identical resumes)',
    })
    .default(0),
  /** The Linears to adapt, by name, or "all-linear" (every one but lm_head; verl's default). */
  targetModules: z
    .union([z.literal(ALL_LINEAR), z.array(z.string()).min(1, { error: 'must name at least one module' })], {
      error: `must be "${ALL_LINEAR}" or a list of module names`,
    })
    .default(ALL_LINEAR)
    .transform((t, ctx) => {
      if (t === ALL_LINEAR) return [...LORA_TARGET_MODULES];
      const known = LORA_TARGET_MODULES as readonly string[];
      t.forEach((name, i) => {
        if (!known.includes(name))
          ctx.addIssue({
            code: 'custom',
            path: [i],
            input: name,
            message: `must be one of ${known.join(', ')}`,
          });
      });
      return [...new Set(t)] as LoraTargetModule[];
    }),
  /**
   * The trainer's copy of the frozen base: "float16" holds its matrices at 2 bytes per value, each cast
   * to float32 inside the layer that uses it (needs gradientCheckpointing, whose per-layer backward re-makes
   * the casts); norms, biases, adapters, gradients and moments stay float32. The base is rounded to half
   * once; the update is then the float32 one on that rounded base. Unset: float32 (absent from a run's
   * identity, as before it existed).
   */
  baseDtype: weightDtypeSchema(),
});

export type LoraConfig = z.output<typeof loraConfigSchema>;
