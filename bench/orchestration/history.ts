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
  /**
   * Workflow tasks that timed out (a sticky worker that did not answer within the sticky schedule-to-start
   * timeout, or a turn past start-to-close: each costs seconds) and activity attempts that failed or timed out.
   */
  workflowTaskTimeouts: number;
  activityRetries: number;
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
    workflowTaskTimeouts: events.filter((e) => e.workflowTaskTimedOutEventAttributes).length,
    // Attempts that failed before the recorded one: ActivityTaskStarted records its attempt number.
    activityRetries: events.reduce(
      (n, e) => n + Math.max(0, (e.activityTaskStartedEventAttributes?.attempt ?? 1) - 1),
      0,
    ),
  };
}

/** One hop, from the end of an activity to the start of the next one it led to, split where the server saw it. */
export interface HopSegments {
  /** The activity function returned → ActivityTaskCompleted: encoding the result, the completion RPC. */
  reportMs: number;
  /** → WorkflowTaskStarted: the workflow task scheduled and picked up by the workflow worker. */
  workflowTaskWaitMs: number;
  /** → WorkflowTaskCompleted: the workflow's turn, its commands back at the server. */
  workflowTaskRunMs: number;
  /** ActivityTaskScheduled → the next activity function called: matching, the poll's answer, decoding. */
  dispatchMs: number;
  /**
   * The server's part of dispatchMs: ActivityTaskScheduled → ActivityTaskStarted (the task matched to a
   * waiting poll and its start recorded); the rest is the answer reaching the worker and the function.
   */
  dispatchServerMs: number;
}

/** The mean of each segment of the hops that lead to each activity type (a hop's first activity only). */
export function hopSegments(
  history: History,
  spans: readonly { activity: string; activityId?: string; start: number; end: number }[],
  timeOrigin: number,
): Record<string, HopSegments & { hops: number }> {
  const events = history.events ?? [];
  const byId = new Map(events.map((e) => [idOf(e.eventId), e]));
  const scheduledByActivityId = new Map(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => [e.activityTaskScheduledEventAttributes!.activityId ?? '', e]),
  );
  const spanByActivityId = new Map(spans.filter((s) => s.activityId).map((s) => [s.activityId!, s]));
  const startedByScheduledId = new Map(
    events
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => [idOf(e.activityTaskStartedEventAttributes!.scheduledEventId), e]),
  );
  // The first activity each workflow task scheduled (parallel shards: the one that started first).
  const firstByTask = new Map<string, { span: (typeof spans)[number]; scheduled: HistoryEvent }>();
  for (const span of spans) {
    const scheduled = span.activityId ? scheduledByActivityId.get(span.activityId) : undefined;
    if (!scheduled) continue;
    const task = idOf(scheduled.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId);
    const seen = firstByTask.get(task);
    if (!seen || span.start < seen.span.start) firstByTask.set(task, { span, scheduled });
  }
  const sums = new Map<string, HopSegments & { hops: number }>();
  for (const [task, { span, scheduled }] of firstByTask) {
    const completed = byId.get(task)?.workflowTaskCompletedEventAttributes;
    const taskScheduled = completed && byId.get(idOf(completed.scheduledEventId));
    const taskStarted = completed && byId.get(idOf(completed.startedEventId));
    // The event that made the task: the previous activity's completion, right before it was scheduled.
    const trigger = taskScheduled && byId.get(String(Number(taskScheduled.eventId) - 1));
    const before = trigger?.activityTaskCompletedEventAttributes;
    const prevScheduled = before && byId.get(idOf(before.scheduledEventId));
    const prevId = prevScheduled?.activityTaskScheduledEventAttributes?.activityId;
    const prev = prevId ? spanByActivityId.get(prevId) : undefined;
    const activityStarted = startedByScheduledId.get(idOf(scheduled.eventId));
    if (!prev || !taskStarted || !trigger || !activityStarted) continue;
    const s = sums.get(span.activity) ?? {
      reportMs: 0,
      workflowTaskWaitMs: 0,
      workflowTaskRunMs: 0,
      dispatchMs: 0,
      dispatchServerMs: 0,
      hops: 0,
    };
    s.reportMs += eventMs(trigger) - (timeOrigin + prev.end);
    s.workflowTaskWaitMs += eventMs(taskStarted) - eventMs(trigger);
    s.workflowTaskRunMs += eventMs(byId.get(task)!) - eventMs(taskStarted);
    s.dispatchMs += timeOrigin + span.start - eventMs(scheduled);
    s.dispatchServerMs += eventMs(activityStarted) - eventMs(scheduled);
    s.hops++;
    sums.set(span.activity, s);
  }
  return Object.fromEntries(
    [...sums].map(([activity, s]) => [
      activity,
      {
        reportMs: s.reportMs / s.hops,
        workflowTaskWaitMs: s.workflowTaskWaitMs / s.hops,
        workflowTaskRunMs: s.workflowTaskRunMs / s.hops,
        dispatchMs: s.dispatchMs / s.hops,
        dispatchServerMs: s.dispatchServerMs / s.hops,
        hops: s.hops,
      },
    ]),
  );
}
