import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostname } from 'node:os';
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import { neverStarted } from '../../../workflows/stickyTrainer.ts';
import { trainerQueueActivity, uniqueTrainerQueue } from '../../../activities/trainerQueue.ts';

function activityFailure(cause: Error): ActivityFailure {
  return new ActivityFailure('activity failed', 'updatePolicy', '7', 'NON_RETRYABLE_FAILURE', 'w', cause);
}

describe('sticky trainer routing', () => {
  it('takes only a schedule-to-start timeout for a gone worker', () => {
    assert.equal(
      neverStarted(activityFailure(new TimeoutFailure('t', undefined, 'SCHEDULE_TO_START'))),
      true,
    );
    // A worker that died mid-update is retried by the retry policy; its heartbeat timeout is not "gone".
    assert.equal(neverStarted(activityFailure(new TimeoutFailure('t', undefined, 'HEARTBEAT'))), false);
    assert.equal(neverStarted(activityFailure(ApplicationFailure.nonRetryable('bad config'))), false);
    assert.equal(neverStarted(new TimeoutFailure('t', undefined, 'SCHEDULE_TO_START')), false);
  });

  it("names a trainer's own queue after the shared one, the host and the process, unique per worker", async () => {
    const a = uniqueTrainerQueue('reasonloop-trainer');
    const b = uniqueTrainerQueue('reasonloop-trainer');
    assert.ok(
      a.startsWith(`reasonloop-trainer-${hostname().replace(/[^A-Za-z0-9.-]+/g, '_')}-${process.pid}-`),
      a,
    );
    assert.notEqual(a, b);
    assert.equal(await trainerQueueActivity(a)(), a);
  });
});
