import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostname } from 'node:os';
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import { tryAnotherTrainer } from '../../../workflows/stickyTrainer.ts';
import { trainerQueueActivity, uniqueTrainerQueue } from '../../../activities/trainerQueue.ts';

function activityFailure(cause: Error): ActivityFailure {
  return new ActivityFailure('activity failed', 'updatePolicy', '7', 'NON_RETRYABLE_FAILURE', 'w', cause);
}

describe('sticky trainer routing', () => {
  it('goes to another trainer after any timeout or a retryable failure on its own queue, never after a permanent one', () => {
    for (const type of ['SCHEDULE_TO_START', 'HEARTBEAT', 'START_TO_CLOSE'] as const) {
      assert.equal(tryAnotherTrainer(activityFailure(new TimeoutFailure('t', undefined, type))), true, type);
    }
    assert.equal(tryAnotherTrainer(activityFailure(ApplicationFailure.retryable('store hiccup'))), true);
    assert.equal(tryAnotherTrainer(activityFailure(ApplicationFailure.nonRetryable('bad config'))), false);
    assert.equal(tryAnotherTrainer(new TimeoutFailure('t', undefined, 'SCHEDULE_TO_START')), false);
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
