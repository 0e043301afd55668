import { ApplicationFailure } from '@temporalio/common';
import { parseRunConfig, RunConfigError, type RunConfig } from '../core/config/run.ts';

/** Failure types the workflow and the CLI recognise; all of them are non-retryable. */
export const FAILURE = {
  config: 'RunConfigError',
  resume: 'ResumeError',
  data: 'RunDataError',
  state: 'TrainerStateError',
} as const;

/** A permanent problem: retrying the same activity with the same input cannot succeed. */
export function permanent(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

/** Parses the run config; a config error is non-retryable (it would fail the same way on every attempt). */
export function runConfigOrFail(raw: unknown): RunConfig {
  try {
    return parseRunConfig(raw);
  } catch (error) {
    if (error instanceof RunConfigError) throw permanent(FAILURE.config, error.message);
    throw error;
  }
}
