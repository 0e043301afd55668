/**
 * A training run seen from outside: start rlTraining, query a run's status and signal it by its run id
 * (the workflow id), and show that status on one terminal line.
 */
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { RunConfig } from '../core/config/run.ts';
import { listCheckpointSteps, openStore, S3ObjectStore } from '../core/store/index.ts';
import {
  pauseSignal,
  resumeSignal,
  statusQuery,
  stopSignal,
  type TrainingStatus,
} from '../workflows/definitions.ts';
import type { rlTraining } from '../workflows/rlTraining.ts';
import { DEFAULT_WORKFLOW_QUEUE, WORKFLOW_TYPES } from './workflowTypes.ts';

/** Starts rlTraining with the run id as the workflow id, so a second start of a live run is refused. */
export async function startTraining(
  client: Client,
  config: RunConfig,
  raw: unknown,
  taskQueue = DEFAULT_WORKFLOW_QUEUE,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof rlTraining>> {
  return client.workflow.start<typeof rlTraining>(WORKFLOW_TYPES.rlTraining, {
    taskQueue,
    workflowId: config.runId,
    args: [raw as Parameters<typeof rlTraining>[0]],
  });
}

/** Workflow states in which no status query can tell what went wrong, but the failure can. */
const FAILED_STATES = new Set(['FAILED', 'TERMINATED', 'TIMED_OUT']);

/**
 * The run's status; for a run that failed, its result's error instead (thrown: a WorkflowFailedError whose
 * cause chain holds the activity's message, client/failureCause.ts).
 */
export async function queryStatus(client: Client, runId: string): Promise<TrainingStatus> {
  const handle = client.workflow.getHandle(runId);
  const { status } = await handle.describe();
  if (FAILED_STATES.has(status.name)) await handle.result();
  return handle.query(statusQuery);
}

export const RUN_SIGNALS = { pause: pauseSignal, resume: resumeSignal, stop: stopSignal } as const;
export type RunSignal = keyof typeof RUN_SIGNALS;

export async function signalRun(client: Client, runId: string, signal: RunSignal): Promise<void> {
  await client.workflow.getHandle(runId).signal(RUN_SIGNALS[signal]);
}

/**
 * The step a (re)started run resumes from: its newest checkpoint with a manifest, undefined for a new run.
 * prepareRun verifies it and may fall back to an older one; this is what the user is told at start.
 */
export async function newestCheckpointStep(
  config: RunConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number | undefined> {
  const store = openStore(config.store.url, env);
  try {
    return (await listCheckpointSteps(store, config.runId)).withManifest.at(-1);
  } finally {
    if (store instanceof S3ObjectStore) store.destroy();
  }
}

/** `starting run r1` or `resuming run r1 from step 4`. */
export function startLine(runId: string, step: number | undefined): string {
  return step === undefined ? `starting run ${runId}` : `resuming run ${runId} from step ${step}`;
}

/** `[########............] 4/10` */
export function progressBar(done: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

/** One line for a terminal: progress, phase, the latest metrics and any hyper-parameter overrides. */
export function formatStatus(s: TrainingStatus): string {
  const flags = [s.paused ? 'paused' : '', s.stopRequested ? 'stopping' : ''].filter(Boolean).join(', ');
  const metrics = Object.entries(s.lastMetrics)
    .filter(([k]) =>
      [
        'meanTaskReward',
        'meanReward',
        'meanResponseLength',
        'loss',
        'gradNorm',
        'lr',
        'timing/step',
        'perf/throughput',
      ].includes(k),
    )
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ');
  const overrides = Object.entries(s.hyperParameters?.overrides ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${s.runId} ${progressBar(s.step, s.totalSteps)} ${s.phase}${flags ? ` (${flags})` : ''}${metrics ? `  ${metrics}` : ''}${overrides ? `  set: ${overrides}` : ''}`;
}
