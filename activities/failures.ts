import { ApplicationFailure } from '@temporalio/common';

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
