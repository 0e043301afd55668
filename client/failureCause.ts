/**
 * Why a workflow failed, in one line a user can act on: the failure's cause chain (workflow failure →
 * activity failure → the activity's ApplicationFailure) walked to its root, whose message names the field
 * or file (`task: …/problems.jsonl: no usable row …`). Temporal's own top message ("Workflow execution
 * failed") says nothing of that.
 */
import { ActivityFailure, ChildWorkflowFailure, TemporalFailure } from '@temporalio/common';
import { truncateText } from '../core/config/rules.ts';

/** Longest root-cause line shown: a whole config's issues fit, a 50 MB echo does not. */
const MAX_CAUSE_CHARS = 2000;

/** The errors from the top of the chain down to its root. */
function chain(error: unknown): Error[] {
  const out: Error[] = [];
  let e: unknown = error;
  while (e instanceof Error && !out.includes(e)) {
    out.push(e);
    e = e.cause;
  }
  return out;
}

/** Whether `error` carries a Temporal failure chain worth walking (a workflow or activity failure). */
export function isTemporalFailure(error: unknown): boolean {
  return chain(error).some((e) => e instanceof TemporalFailure);
}

/**
 * `failed in activity prepareRun: RunDataError: task: …: no usable row …` — where it failed (the innermost
 * activity or child workflow) and the root cause's message, on one line.
 */
export function failureCause(error: unknown): string {
  const errors = chain(error);
  const root = errors[errors.length - 1];
  let where = '';
  for (const e of errors) {
    if (e instanceof ActivityFailure && e.activityType) where = `in activity ${e.activityType}`;
    if (e instanceof ChildWorkflowFailure && e.execution)
      where = `in child workflow ${e.execution.workflowId}`;
  }
  const type = (root as { type?: string }).type;
  const message = root.message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ');
  return truncateText(
    `failed${where ? ` ${where}` : ''}: ${type && !message.startsWith(type) ? `${type}: ` : ''}${message}`,
    MAX_CAUSE_CHARS,
  );
}
