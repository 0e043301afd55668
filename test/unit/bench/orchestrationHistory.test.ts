/**
 * bench:orchestration's server-side cross-check: task waits read from a workflow history, and each hop split
 * at the events the server recorded.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hopBreakdown, hopSegments } from '../../../bench/orchestration/history.ts';

type History = Parameters<typeof hopBreakdown>[0];

/** An event at `ms` milliseconds (seconds as the protobuf Long's string form, as the client decodes them). */
function at(eventId: number, ms: number, attributes: Record<string, unknown>) {
  return {
    eventId,
    eventTime: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
    ...attributes,
  };
}

it('averages the schedule-to-start of activity and workflow tasks and the workflow task run', () => {
  const history = {
    events: [
      at(1, 1000, { workflowExecutionStartedEventAttributes: {} }),
      at(2, 1000, { workflowTaskScheduledEventAttributes: {} }),
      at(3, 1010, { workflowTaskStartedEventAttributes: { scheduledEventId: 2 } }),
      at(4, 1030, { workflowTaskCompletedEventAttributes: { scheduledEventId: 2, startedEventId: 3 } }),
      at(5, 1030, { activityTaskScheduledEventAttributes: {} }),
      at(6, 1036, { activityTaskStartedEventAttributes: { scheduledEventId: 5 } }),
      at(7, 2000, { activityTaskCompletedEventAttributes: { scheduledEventId: 5, startedEventId: 6 } }),
      at(8, 2000, { workflowTaskScheduledEventAttributes: {} }),
      at(9, 2030, { workflowTaskStartedEventAttributes: { scheduledEventId: 8 } }),
      at(10, 2070, { workflowTaskCompletedEventAttributes: { scheduledEventId: 8, startedEventId: 9 } }),
      at(11, 2070, { activityTaskScheduledEventAttributes: {} }),
      at(12, 2084, { activityTaskStartedEventAttributes: { scheduledEventId: 11 } }),
    ],
  } as unknown as History;
  assert.deepEqual(hopBreakdown(history), {
    activities: 2,
    activityScheduleToStartMs: 10,
    workflowTaskScheduleToStartMs: 20,
    workflowTaskRunMs: 30,
    workflowTaskTimeouts: 0,
    activityRetries: 0,
  });
});

it('counts workflow task timeouts and the activity attempts that failed before the recorded one', () => {
  const history = {
    events: [
      at(1, 1000, { workflowTaskScheduledEventAttributes: {} }),
      at(2, 1001, { workflowTaskStartedEventAttributes: { scheduledEventId: 1 } }),
      at(3, 11001, { workflowTaskTimedOutEventAttributes: { scheduledEventId: 1, startedEventId: 2 } }),
      at(4, 11002, { activityTaskScheduledEventAttributes: {} }),
      at(5, 15000, { activityTaskStartedEventAttributes: { scheduledEventId: 4, attempt: 3 } }),
    ],
  } as unknown as History;
  const b = hopBreakdown(history);
  assert.equal(b.workflowTaskTimeouts, 1);
  assert.equal(b.activityRetries, 2);
});

it('hopSegments: splits the hop from one activity to the next at the events the server recorded', () => {
  const history = {
    events: [
      at(1, 1_000, { workflowTaskScheduledEventAttributes: {} }),
      at(2, 1_001, { workflowTaskStartedEventAttributes: { scheduledEventId: '1' } }),
      at(3, 1_002, {
        workflowTaskCompletedEventAttributes: { scheduledEventId: '1', startedEventId: '2' },
      }),
      at(4, 1_002, {
        activityTaskScheduledEventAttributes: {
          activityId: '1',
          activityType: { name: 'sampleRollouts' },
          workflowTaskCompletedEventId: '3',
        },
      }),
      at(5, 1_050, { activityTaskCompletedEventAttributes: { scheduledEventId: '4' } }),
      at(6, 1_050, { workflowTaskScheduledEventAttributes: {} }),
      at(7, 1_060, { workflowTaskStartedEventAttributes: { scheduledEventId: '6' } }),
      at(8, 1_075, {
        workflowTaskCompletedEventAttributes: { scheduledEventId: '6', startedEventId: '7' },
      }),
      at(9, 1_075, {
        activityTaskScheduledEventAttributes: {
          activityId: '2',
          activityType: { name: 'trainStep' },
          workflowTaskCompletedEventId: '8',
        },
      }),
      // Written to the history when the activity ends, with the time it started.
      at(10, 1_005, { activityTaskStartedEventAttributes: { scheduledEventId: '4' } }),
      at(11, 1_078, { activityTaskStartedEventAttributes: { scheduledEventId: '9' } }),
    ],
  } as unknown as History;
  const spans = [
    { activity: 'sampleRollouts', activityId: '1', start: 1_010, end: 1_046 },
    { activity: 'trainStep', activityId: '2', start: 1_082, end: 1_200 },
  ];
  // The first activity had no activity before it: only the hop to trainStep is split.
  assert.deepEqual(hopSegments(history, spans, 0), {
    trainStep: {
      reportMs: 4,
      workflowTaskWaitMs: 10,
      workflowTaskRunMs: 15,
      dispatchMs: 7,
      dispatchServerMs: 3,
      hops: 1,
    },
  });
});
