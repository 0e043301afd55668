/**
 * The client side of the workflows (used by the CLI, not bundled into workflow code): connect with the
 * `temporal` CLI's TEMPORAL_* variables, start a run, and reach a running one by its run id.
 */
import { Client, Connection, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { temporalTargetFromEnv } from '../infra/temporalEnv.ts';
import type { RunConfig } from '../core/config/run.ts';
import { pauseSignal, resumeSignal, statusQuery, stopSignal, type TrainingStatus } from './definitions.ts';
import type { rlTraining } from './rlTraining.ts';

/** The workflow task queue workers poll by default (`temporal workflow start --task-queue reasonloop`). */
export const DEFAULT_WORKFLOW_QUEUE = 'reasonloop';
export const RL_TRAINING = 'rlTraining';

export async function withClient<T>(
  use: (client: Client) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  const target = temporalTargetFromEnv(env);
  const connection = await Connection.connect(target.connectionOptions);
  try {
    return await use(new Client({ connection, namespace: target.namespace }));
  } finally {
    await connection.close();
  }
}

/** Starts rlTraining with the run id as the workflow id, so a second start of a live run is refused. */
export async function startTraining(
  client: Client,
  config: RunConfig,
  raw: unknown,
  taskQueue = DEFAULT_WORKFLOW_QUEUE,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof rlTraining>> {
  return client.workflow.start<typeof rlTraining>(RL_TRAINING, {
    taskQueue,
    workflowId: config.runId,
    args: [raw as Parameters<typeof rlTraining>[0]],
  });
}

/** The equivalent command line of the `temporal` CLI. */
export function temporalStartLine(
  runId: string,
  configFile: string,
  taskQueue = DEFAULT_WORKFLOW_QUEUE,
): string {
  const quote = (s: string) => (/^[\w./:@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return `temporal workflow start --type ${RL_TRAINING} --task-queue ${quote(taskQueue)} --workflow-id ${quote(runId)} --input-file ${quote(configFile)}`;
}

export async function queryStatus(client: Client, runId: string): Promise<TrainingStatus> {
  return client.workflow.getHandle(runId).query(statusQuery);
}

export const RUN_SIGNALS = { pause: pauseSignal, resume: resumeSignal, stop: stopSignal } as const;

export async function signalRun(
  client: Client,
  runId: string,
  signal: keyof typeof RUN_SIGNALS,
): Promise<void> {
  await client.workflow.getHandle(runId).signal(RUN_SIGNALS[signal]);
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
      ['meanTaskReward', 'meanReward', 'meanResponseLength', 'loss', 'gradNorm', 'lr'].includes(k),
    )
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ');
  const overrides = Object.entries(s.hyperParameters?.overrides ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${s.runId} ${progressBar(s.step, s.totalSteps)} ${s.phase}${flags ? ` (${flags})` : ''}${metrics ? `  ${metrics}` : ''}${overrides ? `  set: ${overrides}` : ''}`;
}
