/**
 * Where a hop's time goes, as the Temporal server recorded it in the workflow history: how long workflow
 * tasks and activity tasks waited to be picked up, and how long the workflow worker took on a workflow
 * task. A cross-check of the in-process timing (timing.ts), from the other side.
 */
import type { WorkflowHandle } from '@temporalio/client';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

export interface HopBreakdown {
  /** Activities scheduled by the workflow. */
  activities: number;
  /** Mean ActivityTaskScheduled → ActivityTaskStarted: dispatch to a polling activity worker. */
  activityScheduleToStartMs: number;
  /** Mean WorkflowTaskScheduled → WorkflowTaskStarted: dispatch to the workflow worker. */
  workflowTaskScheduleToStartMs: number;
  /** Mean WorkflowTaskStarted → WorkflowTaskCompleted: the workflow code's turn plus the round trip. */
  workflowTaskRunMs: number;
}

/** An event's time in milliseconds (the seconds are a protobuf Long or a number). */
function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) throw new Error(`history event ${String(e.eventId)} has no time`);
  return Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6;
}

const idOf = (id: unknown) => String(id);

function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

/** The server-side waits of a workflow's history, averaged per task. */
export function hopBreakdown(history: History): HopBreakdown {
  const events = history.events ?? [];
  const timeById = new Map(events.map((e) => [idOf(e.eventId), eventMs(e)]));
  const since = (scheduledId: unknown, e: HistoryEvent) => {
    const from = timeById.get(idOf(scheduledId));
    if (from === undefined)
      throw new Error(`history event ${String(e.eventId)}: no event ${String(scheduledId)}`);
    return eventMs(e) - from;
  };
  const activityWaits: number[] = [];
  const workflowWaits: number[] = [];
  const workflowRuns: number[] = [];
  for (const e of events) {
    if (e.activityTaskStartedEventAttributes) {
      activityWaits.push(since(e.activityTaskStartedEventAttributes.scheduledEventId, e));
    } else if (e.workflowTaskStartedEventAttributes) {
      workflowWaits.push(since(e.workflowTaskStartedEventAttributes.scheduledEventId, e));
    } else if (e.workflowTaskCompletedEventAttributes) {
      workflowRuns.push(since(e.workflowTaskCompletedEventAttributes.startedEventId, e));
    }
  }
  return {
    activities: events.filter((e) => e.activityTaskScheduledEventAttributes).length,
    activityScheduleToStartMs: mean(activityWaits),
    workflowTaskScheduleToStartMs: mean(workflowWaits),
    workflowTaskRunMs: mean(workflowRuns),
  };
}
