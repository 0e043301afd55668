/**
 * Signals and the query of rlTraining, defined once and shared by the workflow and the CLI.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

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
