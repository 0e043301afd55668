/** bench:orchestration's server-side cross-check: task waits read from a workflow history. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hopBreakdown } from '../../../bench/orchestration/history.ts';

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
  });
});
