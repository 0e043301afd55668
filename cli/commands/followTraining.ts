/**
 * Following a training workflow's status query to its end (`reasonloop train|sft --wait`), one status
 * line printed per change.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { formatStatus } from '../../client/runs.ts';
import { statusQuery, type TrainingResult } from '../../workflows/definitions.ts';

/** How often --wait polls the status query (as `reasonloop train --wait`). */
const WAIT_POLL_MS = 1000;

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
