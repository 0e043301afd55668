/**
 * What a start did, as one line of the `temporal` CLI: printed by every command that starts a workflow so
 * an operator can repeat it without reasonloop.
 */
import { DEFAULT_WORKFLOW_QUEUE, WORKFLOW_TYPES } from './workflowTypes.ts';

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

/** The `temporal workflow start` line of an RL run (its workflow id is the run id). */
export function temporalStartLine(
  runId: string,
  configFile: string,
  taskQueue = DEFAULT_WORKFLOW_QUEUE,
): string {
  return temporalWorkflowStartLine(WORKFLOW_TYPES.rlTraining, runId, configFile, taskQueue);
}
