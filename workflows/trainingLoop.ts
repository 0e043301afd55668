/**
 * What every training workflow (rlTraining, sftTraining) shares: its status with the pause / resume /
 * stop signals and the status query, the wait at the top of each step, and continuing as new.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { HyperParameters } from '../core/config/hyperParameters.ts';
import {
  pauseSignal,
  resumeSignal,
  statusQuery,
  stopSignal,
  type TrainingResult,
  type TrainingStatus,
} from './definitions.ts';

/** Carried across continue-as-new (signals and updates received before it must not be lost). */
export interface TrainingCarry {
  paused?: boolean;
  /** rlTraining: the setHyperParameters overrides in force (newer than the last checkpoint's). */
  hyperParameters?: HyperParameters;
  /** rlTraining: the trainer queue of the worker holding the run's state. */
  trainerQueue?: string;
}

/** A fresh status with the signal and query handlers installed. */
export function trainingStatus(carry: TrainingCarry): TrainingStatus {
  const status: TrainingStatus = {
    runId: workflowInfo().workflowId,
    step: 0,
    totalSteps: 0,
    phase: 'preparing',
    paused: carry.paused ?? false,
    stopRequested: false,
    stepsThisRun: 0,
    lastMetrics: {},
    rejectedCheckpoints: [],
  };
  setHandler(pauseSignal, () => void (status.paused = true));
  setHandler(resumeSignal, () => void (status.paused = false));
  setHandler(stopSignal, () => void (status.stopRequested = true));
  setHandler(statusQuery, () => status);
  return status;
}

/** Holds while paused; true when the run should stop before its next step. */
export async function pausedOrStopped(status: TrainingStatus): Promise<boolean> {
  if (status.paused) {
    status.phase = 'paused';
    await condition(() => !status.paused || status.stopRequested);
  }
  return status.stopRequested;
}

/**
 * Continues as new (with the same config) when steps remain, no stop was asked for, and this workflow run
 * has done `every` steps or Temporal suggests it. Handlers in flight finish first; what they changed is
 * carried over: the pause, the trainer queue, and what the workflow's `carry` returns once they have
 * (rlTraining's overrides).
 */
export async function continueAsNewWhenDue<C>(
  status: TrainingStatus,
  every: number,
  config: C,
  carry: () => Omit<TrainingCarry, 'paused' | 'trainerQueue'> = () => ({}),
): Promise<void> {
  const more = status.step < status.totalSteps && !status.stopRequested;
  if (!more || !(status.stepsThisRun >= every || workflowInfo().continueAsNewSuggested)) return;
  await condition(allHandlersFinished);
  await continueAsNew<(config: C, carry: TrainingCarry) => Promise<TrainingResult>>(config, {
    paused: status.paused,
    ...carry(),
    ...(status.trainerQueue ? { trainerQueue: status.trainerQueue } : {}),
  });
}

/** Marks the run done or stopped once its handlers have finished; true when it stopped early. */
export async function finishTraining(status: TrainingStatus): Promise<boolean> {
  const stopped = status.step < status.totalSteps;
  status.phase = stopped ? 'stopped' : 'done';
  await condition(allHandlersFinished);
  return stopped;
}
