/**
 * Learning-rate schedules, as multipliers of the peak rate (the shapes of HF transformers'
 * get_constant_schedule_with_warmup / get_cosine_schedule_with_warmup, with verl's min_lr_ratio).
 * `step` is the 0-based index of the scheduler step; verl steps its actor scheduler once per RL step,
 * and so do we. Warm-up starts at 0 as in HF: step 0 of a warm-up runs at lr 0.
 */

export const LR_SCHEDULES = ['constant', 'warmupConstant', 'warmupCosine'] as const;
export type LrScheduleName = (typeof LR_SCHEDULES)[number];

export interface LrSchedule {
  schedule: LrScheduleName;
  /** Peak learning rate (STILL-3: 2e-6). */
  lr: number;
  /** Linear warm-up steps from 0 to `lr` (ignored by constant). */
  warmupSteps: number;
  /** Step at which the cosine reaches `lr·minLrRatio` and stays (warmupCosine only). */
  totalSteps?: number;
  /** Floor of the cosine as a fraction of `lr` (warmupCosine only). */
  minLrRatio?: number;
}

function checkSchedule(s: LrSchedule): void {
  if (!(s.lr >= 0) || !Number.isFinite(s.lr))
    throw new RangeError(`lrAt: lr must be a finite number ≥ 0 (got ${s.lr})`);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) {
    throw new RangeError(`lrAt: warmupSteps must be an integer ≥ 0 (got ${s.warmupSteps})`);
  }
  if (s.schedule === 'warmupCosine') {
    if (!Number.isInteger(s.totalSteps) || s.totalSteps! <= s.warmupSteps) {
      throw new RangeError(
        `lrAt: warmupCosine needs totalSteps, an integer above warmupSteps (${s.warmupSteps}) (got ${s.totalSteps})`,
      );
    }
    const ratio = s.minLrRatio ?? 0;
    if (!(ratio >= 0 && ratio <= 1))
      throw new RangeError(`lrAt: minLrRatio must be in [0, 1] (got ${ratio})`);
  } else if (s.schedule !== 'constant' && s.schedule !== 'warmupConstant') {
    throw new RangeError(`lrAt: unknown schedule "${s.schedule}" (one of ${LR_SCHEDULES.join(', ')})`);
  }
}

/** Linear warm-up factor step/warmupSteps, 1 once warm (HF's convention). */
export function warmupFactor(step: number, warmupSteps: number): number {
  return step < warmupSteps ? step / Math.max(1, warmupSteps) : 1;
}

/**
 * Cosine decay factor after warm-up: ratio + (1 − ratio)·½(1 + cos(π·progress)),
 * progress = (step − warmup)/(total − warmup) held at 1 past the end (HF would rise again).
 */
export function cosineFactor(
  step: number,
  warmupSteps: number,
  totalSteps: number,
  minLrRatio: number,
): number {
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps)));
  return minLrRatio + (1 - minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** The learning rate at `step`. */
export function lrAt(step: number, schedule: LrSchedule): number {
  if (!Number.isInteger(step) || step < 0)
    throw new RangeError(`lrAt: step must be an integer ≥ 0 (got ${step})`);
  checkSchedule(schedule);
  const { lr, warmupSteps } = schedule;
  if (schedule.schedule === 'constant') return lr;
  if (schedule.schedule === 'warmupConstant') return lr * warmupFactor(step, warmupSteps);
  if (step < warmupSteps) return lr * warmupFactor(step, warmupSteps);
  return lr * cosineFactor(step, warmupSteps, schedule.totalSteps!, schedule.minLrRatio ?? 0);
}
