/**
 * An activity's round trip as the Temporal server recorded it in the workflow history: from
 * ActivityTaskScheduled to the WorkflowTaskStarted that hands the result to the workflow
 * (bench:update --engine torch's hopMs is this less the activity's own time).
 */
import type { WorkflowHandle } from '@temporalio/client';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) throw new Error(`history event ${String(e.eventId)} has no time`);
  return Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6;
}

/**
 * Per activity, in order: when it was scheduled, when a worker started it, and when the workflow task
 * that hands its result to the workflow started (ms).
 */
export function activityRoundTrips(history: History): { scheduled: number; started: number; seen: number }[] {
  const events = history.events ?? [];
  const out: { scheduled: number; started: number; seen: number }[] = [];
  let open: { scheduled: number; started: number; completed: boolean } | undefined;
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes)
      open = { scheduled: eventMs(e), started: NaN, completed: false };
    else if (e.activityTaskStartedEventAttributes && open) open.started = eventMs(e);
    else if (e.activityTaskCompletedEventAttributes && open) open.completed = true;
    else if (e.workflowTaskStartedEventAttributes && open?.completed) {
      out.push({ scheduled: open.scheduled, started: open.started, seen: eventMs(e) });
      open = undefined;
    }
  }
  return out;
}
