/**
 * Signals, the query and the update of rlTraining, defined once and shared by the workflow and the CLI.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { HyperParameters, HyperParameterValues } from '../core/config/hyperParameters.ts';

/** What `reasonloop status` shows. */
export interface TrainingStatus {
  runId: string;
  /** Steps completed (the newest checkpoint). */
  step: number;
  totalSteps: number;
  phase: 'preparing' | 'sampling' | 'scoring' | 'updating' | 'checkpointing' | 'paused' | 'done' | 'stopped';
  paused: boolean;
  stopRequested: boolean;
  /** Steps done by this workflow run (it continues as new every run.orchestration.continueAsNewEvery). */
  stepsThisRun: number;
  lastMetrics: Record<string, number>;
  lastWeightsSha256?: string;
  /** Newer checkpoints this run found corrupt or incomplete and skipped, with why. */
  rejectedCheckpoints: { step: number; reason: string }[];
  /** Workflow ids of the evaluations this workflow run started (run.evaluation.every). */
  evaluations?: string[];
  /** rlTraining: the hyper-parameters the next step runs with, and the overrides among them. */
  hyperParameters?: HyperParameterState;
  /** rlTraining: the trainer queue of the worker holding the run's state (see activities/trainerQueue.ts). */
  trainerQueue?: string;
}

export interface HyperParameterState {
  /** What the next step that has not started sampling runs with: the config's values + the overrides. */
  effective: HyperParameterValues;
  /** Everything setHyperParameters has set so far (merged; later values win). */
  overrides: HyperParameters;
}

/** What setHyperParameters returns. */
export interface SetHyperParametersResult extends HyperParameterState {
  /** The first step that runs with these values: the next one that has not started sampling. */
  appliesFromStep: number;
}

/** What rlTraining returns. */
export interface TrainingResult {
  runId: string;
  step: number;
  stopped: boolean;
  weightsSha256: string;
  metrics: Record<string, number>;
  rejectedCheckpoints: { step: number; reason: string }[];
}

/** Hold before the next step starts (the current step finishes). */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Finish the current step, checkpoint it, and return. */
export const stopSignal = defineSignal('stop');
export const statusQuery = defineQuery<TrainingStatus>('status');
/**
 * Change hyper-parameters of a running rlTraining (core/config/hyperParameters.ts): validated by the
 * workflow before it is accepted, applied from the next step that has not started sampling.
 */
export const setHyperParametersUpdate = defineUpdate<SetHyperParametersResult, [HyperParameters]>(
  'setHyperParameters',
);
