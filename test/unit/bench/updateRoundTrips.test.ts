/** bench:update --engine torch's hop: each activity's round trip read from a workflow history. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { activityRoundTrips } from '../../../bench/update/roundTrips.ts';

type History = Parameters<typeof activityRoundTrips>[0];

function at(eventId: number, ms: number, attributes: Record<string, unknown>) {
  return {
    eventId,
    eventTime: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
    ...attributes,
  };
}

it('runs from ActivityTaskScheduled to the workflow task that sees the result, per activity', () => {
  const history = {
    events: [
      at(1, 1000, { workflowTaskStartedEventAttributes: { scheduledEventId: 0 } }),
      at(2, 1005, { activityTaskScheduledEventAttributes: {} }),
      at(3, 1020, { activityTaskStartedEventAttributes: { scheduledEventId: 2 } }),
      at(4, 5020, { activityTaskCompletedEventAttributes: { scheduledEventId: 2 } }),
      at(5, 5020, { workflowTaskScheduledEventAttributes: {} }),
      at(6, 5050, { workflowTaskStartedEventAttributes: { scheduledEventId: 5 } }),
      at(7, 5060, { workflowTaskCompletedEventAttributes: { startedEventId: 6 } }),
      at(8, 5060, { activityTaskScheduledEventAttributes: {} }),
      at(9, 5100, { activityTaskStartedEventAttributes: { scheduledEventId: 8 } }),
      at(10, 7100, { activityTaskCompletedEventAttributes: { scheduledEventId: 8 } }),
      at(11, 7100, { workflowTaskScheduledEventAttributes: {} }),
      at(12, 7125, { workflowTaskStartedEventAttributes: { scheduledEventId: 11 } }),
    ],
  } as unknown as History;
  assert.deepEqual(activityRoundTrips(history), [
    { scheduled: 1005, started: 1020, seen: 5050 },
    { scheduled: 5060, started: 5100, seen: 7125 },
  ]);
});

it('leaves out an activity whose result no workflow task has seen yet', () => {
  const history = {
    events: [
      at(1, 1000, { activityTaskScheduledEventAttributes: {} }),
      at(2, 1010, { activityTaskStartedEventAttributes: { scheduledEventId: 1 } }),
    ],
  } as unknown as History;
  assert.deepEqual(activityRoundTrips(history), []);
});
