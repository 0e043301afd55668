/**
 * Which trainer runs an RL run's updatePolicy (`orchestration.trainer.engine`): the ONNX trainer of the
 * TypeScript workers (default), or the PyTorch FSDP2 trainer of trainers/torch (docs/torch-trainer.md),
 * which polls `<taskQueues.trainer>-torch`. Everything else — sampling, scoring, checkpoint commits — stays
 * on the TypeScript workers whatever the engine. A config the torch trainer cannot honour is refused at
 * parse time, naming the field, before anything starts.
 */
import { z } from 'zod';
import { oneOf } from './rules.ts';

export const TRAINER_ENGINES = ['onnx', 'torch'] as const;
export type TrainerEngine = (typeof TRAINER_ENGINES)[number];
export const MIXED_PRECISIONS = ['bf16'] as const;

/** The run's `orchestration.trainer` section. */
export const trainerSchema = z.strictObject({
  /** "onnx" (default): the TypeScript trainer; "torch": the PyTorch trainer worker (`torchrun -m reasonloop_torch.worker`). */
  engine: oneOf(TRAINER_ENGINES).default('onnx'),
  /**
   * Torch trainer only: "bf16" runs each layer's forward and backward in bfloat16 (FSDP2's
   * MixedPrecisionPolicy: parameters gathered in bf16, gradients reduced in float32; the sharded
   * parameters, AdamW's moments and the checkpoints stay float32). Unset: float32 throughout.
   */
  mixedPrecision: oneOf(MIXED_PRECISIONS).optional(),
});

/** The parts of a run config the torch trainer's support depends on. */
export interface TorchTrainerShape {
  model: { init?: unknown };
  algorithm: { lora?: { baseDtype?: string }; gradientCheckpointing?: boolean | string };
  orchestration: {
    trainer: { engine: TrainerEngine; mixedPrecision?: string };
    devices: { trainer: string };
  };
}

/** A field the torch trainer cannot honour: its path under `run` and why. */
export interface TorchRefusal {
  path: string[];
  message: string;
  input?: unknown;
}

/**
 * What the torch trainer does not do today: a LoRA run whose base is `model.init` or held at float16
 * (`lora.baseDtype`; the trainer loads a LoRA run's frozen base itself, from `model.dir` or
 * `model.checkpoint`, and cannot rebuild the seeded weights core/model makes), and `devices.trainer` other
 * than "cpu" (that setting places the TypeScript side's trainer-queue activities, such as reference
 * log-probs; the torch trainer's own device is its worker's `--device cpu|cuda`). `mixedPrecision` is
 * refused with any other engine. Everything else an RL config says — every advantage estimator, KL
 * placement, estimator and schedule, loss aggregation, clip-higher, dual-clip, the entropy bonus, epochs ×
 * mini-batches × micro-batches, the shuffle, the LR schedules, gradient checkpointing (whole layers), LoRA adapters
 * (rank, alpha, target modules; dropout is 0 for both engines) — it honours as the ONNX trainer does
 * (test/integration/torch/parity.test.ts).
 */
export function torchTrainerRefusals(c: TorchTrainerShape): TorchRefusal[] {
  if (c.orchestration.trainer.engine !== 'torch') {
    if (c.orchestration.trainer.mixedPrecision === undefined) return [];
    return [
      {
        path: ['orchestration', 'trainer', 'mixedPrecision'],
        message: `applies to orchestration.trainer.engine "torch" only (the ONNX trainer trains in float32); remove it or set engine "torch"`,
        input: c.orchestration.trainer.mixedPrecision,
      },
    ];
  }
  const why = 'is not supported with orchestration.trainer.engine "torch"';
  const out: TorchRefusal[] = [];
  if (c.algorithm.lora !== undefined && c.model.init !== undefined) {
    out.push({
      path: ['model', 'init'],
      message: `with algorithm.lora ${why} (the torch trainer loads a LoRA run's frozen base from model.dir or model.checkpoint and cannot rebuild the seeded weights model.init makes; use a model.dir or model.checkpoint base, or engine "onnx")`,
    });
  }
  if (c.algorithm.lora?.baseDtype === 'float16') {
    out.push({
      path: ['algorithm', 'lora', 'baseDtype'],
      message: `float16 ${why} (the torch trainer holds its frozen base as loaded; the half-precision base is the ONNX trainer's)`,
      input: c.algorithm.lora.baseDtype,
    });
  }
  if (c.algorithm.gradientCheckpointing === 'selective') {
    out.push({
      path: ['algorithm', 'gradientCheckpointing'],
      message: `"selective" ${why} (the torch trainer recomputes whole layers with torch.utils.checkpoint; use true, or engine "onnx")`,
      input: c.algorithm.gradientCheckpointing,
    });
  }
  if (c.orchestration.devices.trainer !== 'cpu') {
    out.push({
      path: ['orchestration', 'devices', 'trainer'],
      message: `${why} (it would send the TypeScript side's trainer-queue activities to GPU workers; the torch trainer's own device is its worker's --device flag: set this to "cpu", start the worker with --device cuda, or use engine "onnx")`,
      input: c.orchestration.devices.trainer,
    });
  }
  return out;
}

/** Adds each torch refusal of `c` to a zod refinement (runConfigSchema's). */
export function checkTrainerEngine(c: TorchTrainerShape, ctx: z.RefinementCtx): void {
  for (const r of torchTrainerRefusals(c)) ctx.addIssue({ code: 'custom', ...r });
}
