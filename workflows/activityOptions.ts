/**
 * Timeouts and retry policy of every activity the workflows schedule, in one place (the table in
 * docs/orchestration.md, Failures, lists them). Every activity that can run long has a heartbeat timeout
 * (workers heartbeat from a timer while any activity runs, workers/keepAlive.ts), so a dead worker costs
 * `heartbeatTimeoutSeconds`; start-to-close only bounds a worker alive but stuck, sized to the work: the
 * model passes (sampling, scoring, updating) scale with the tokens of a step, the rest is store I/O.
 *
 * Changing these values changes no workflow command (the server keeps the options an activity was
 * scheduled with; replay compares activity types and order), so in-flight runs replay unchanged
 * (test/unit/workflows/replay.test.ts).
 */

/**
 * The schema's default of run.orchestration.heartbeatTimeoutSeconds (core/config/run.ts), for the
 * activities scheduled before the config is parsed.
 */
export const DEFAULT_HEARTBEAT_SECONDS = 60;

/**
 * Attempts of one activity before the workflow fails with its last error. What cannot succeed (config,
 * data, a checkpoint of another config, an unwritable store) is raised non-retryable and fails at once;
 * this bounds what is left — a store down for long (the back-off reaches 1 minute: ~15 minutes of
 * attempts), a worker that crashes on every attempt. The run resumes from its newest checkpoint when
 * started again with the same run id.
 */
export const MAX_ATTEMPTS = 20;

export const RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: MAX_ATTEMPTS,
} as const;

/** One attempt: for calls whose failures the workflow handles itself (the trainer's own queue). */
export const ONE_ATTEMPT = { ...RETRY, maximumAttempts: 1 } as const;

/** Start-to-close of the model passes over a step's tokens: sampling, scoring, updating, SFT, evaluation. */
export const MODEL_PASS_TIMEOUT = '2 hours';
/** Start-to-close of store work: preparing a run (its step-0 checkpoint), committing a checkpoint. */
export const STORE_WORK_TIMEOUT = '30 minutes';

/**
 * heartbeatTimeoutSeconds of a config not parsed yet (the workflow's input, before prepareRun validates
 * it): its value when it is a positive integer, else the default — a bad one is then refused by prepareRun
 * with the config's error.
 */
export function heartbeatSecondsOf(config: unknown): number {
  const value = (config as { orchestration?: { heartbeatTimeoutSeconds?: unknown } } | undefined)
    ?.orchestration?.heartbeatTimeoutSeconds;
  return typeof value === 'number' && Number.isInteger(value) && value > 0
    ? value
    : DEFAULT_HEARTBEAT_SECONDS;
}

/** Options of a run's prepare activity (prepareRun, prepareSft), which heartbeats while it works. */
export function prepareOptions(config: unknown) {
  return {
    startToCloseTimeout: STORE_WORK_TIMEOUT,
    heartbeatTimeout: `${heartbeatSecondsOf(config)} seconds`,
    retry: RETRY,
  };
}
