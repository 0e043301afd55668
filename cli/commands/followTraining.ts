/**
 * What the commands that start workflows share: the store check before anything starts, the equivalent
 * `temporal` command lines, and following a training workflow's status query to its end.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { checkStoreReachable } from '../../activities/preflight.ts';
import { openStore, S3ObjectStore, type ObjectStore } from '../../core/store/index.ts';
import { formatStatus } from '../../workflows/client.ts';
import { statusQuery, type TrainingResult } from '../../workflows/definitions.ts';

/** How often --wait polls the status query (as `reasonloop train --wait`). */
const WAIT_POLL_MS = 1000;

/** Quotes a word for a POSIX shell only when it needs it. */
export function shellWord(s: string): string {
  return /^[\w./:@=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `temporal workflow start …`: what the command did, as one line of the temporal CLI. */
export function temporalWorkflowStartLine(
  workflowType: string,
  workflowId: string,
  configFile: string,
  taskQueue: string,
): string {
  return [
    'temporal workflow start',
    `--type ${shellWord(workflowType)}`,
    `--task-queue ${shellWord(taskQueue)}`,
    `--workflow-id ${shellWord(workflowId)}`,
    `--input-file ${shellWord(configFile)}`,
  ].join(' ');
}

/**
 * Opens the store a config names and lists it, so an unreachable store fails before a workflow starts;
 * errors name the field (`sft.store.url`).
 */
export async function checkConfigStore(
  url: string,
  field: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  let store: ObjectStore;
  try {
    store = openStore(url, env);
  } catch (error) {
    throw new Error(`${field}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await checkStoreReachable(store);
  } catch (error) {
    throw new Error(`${field} ${url}: ${(error as Error).message}`, { cause: error });
  } finally {
    if (store instanceof S3ObjectStore) store.destroy();
  }
}

/** Prints the status line whenever it changes until the workflow ends; returns its result. */
export async function followTraining(
  client: Client,
  workflowId: string,
  handle: WorkflowHandle,
): Promise<TrainingResult> {
  const done = handle.result() as Promise<TrainingResult>;
  let finished = false;
  void done.then(
    () => (finished = true),
    () => (finished = true),
  );
  let last = '';
  while (!finished) {
    try {
      // By workflow id, not the handle: the run continues as new and the newest run answers.
      const line = formatStatus(await client.workflow.getHandle(workflowId).query(statusQuery));
      if (line !== last) console.log((last = line));
    } catch {
      // Between continue-as-new runs the query can briefly fail; the next poll answers.
    }
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
  return done;
}
