/**
 * When and how strongly the KL term acts: the coefficient schedule and the reference-model refresh.
 * `step` is the 0-based RL step (one rollout batch, however many optimizer steps it takes), the unit
 * of STILL-3's "cosine-decayed to 0 over 500 updates" (its Zero runs do one optimizer step per batch).
 */

export const KL_COEF_SCHEDULES = ['constant', 'cosine'] as const;
export type KlCoefScheduleName = (typeof KL_COEF_SCHEDULES)[number];

export interface KlCoefSchedule {
  schedule: KlCoefScheduleName;
  /** β at step 0. */
  coef: number;
  /** Steps over which the cosine schedule reaches 0 (ignored by constant). */
  annealSteps: number;
}

function checkStep(fn: string, step: number): void {
  if (!Number.isInteger(step) || step < 0)
    throw new RangeError(`${fn}: step must be an integer ≥ 0 (got ${step})`);
}

/** β_t = β_0·½·(1 + cos(π·t/N)) for t < N, then 0 (STILL-3 §3, "annealed KL"; SGDR's cosine shape). */
export function cosineKlCoef(step: number, initial: number, totalSteps: number): number {
  checkStep('cosineKlCoef', step);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) {
    throw new RangeError(`cosineKlCoef: totalSteps must be a positive integer (got ${totalSteps})`);
  }
  if (step >= totalSteps) return 0;
  return initial * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps));
}

/** The KL coefficient in force at `step`. */
export function klCoefAt(step: number, schedule: KlCoefSchedule): number {
  checkStep('klCoefAt', step);
  if (schedule.schedule === 'constant') return schedule.coef;
  if (schedule.schedule === 'cosine') return cosineKlCoef(step, schedule.coef, schedule.annealSteps);
  throw new RangeError(`klCoefAt: unknown schedule "${schedule.schedule}" (one of ${KL_COEF_SCHEDULES})`);
}

/**
 * Whether the reference model is replaced by the current policy before step `step` runs: every
 * `everySteps` steps (at steps M, 2M, …; never at step 0, where they are equal anyway). 0 = never.
 * STILL-3 did this by hand during its 1.5B run; this makes it a rule that a resumed run repeats.
 */
export function shouldRefreshReference(step: number, everySteps: number): boolean {
  checkStep('shouldRefreshReference', step);
  if (!Number.isInteger(everySteps) || everySteps < 0) {
    throw new RangeError(`shouldRefreshReference: everySteps must be an integer ≥ 0 (got ${everySteps})`);
  }
  return everySteps > 0 && step > 0 && step % everySteps === 0;
}

/**
 * The checkpoint that is the KL reference at step `step` (0-based, like `klCoefAt`; the policy then is
 * checkpoint `step`): the last refresh at or before it — ⌊step / M⌋·M — or the initial policy (0).
 */
export function referenceStepAt(step: number, everySteps: number): number {
  checkStep('referenceStepAt', step);
  if (!Number.isInteger(everySteps) || everySteps < 0) {
    throw new RangeError(`referenceStepAt: everySteps must be an integer ≥ 0 (got ${everySteps})`);
  }
  return everySteps === 0 ? 0 : Math.floor(step / everySteps) * everySteps;
}
