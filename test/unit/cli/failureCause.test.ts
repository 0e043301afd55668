/**
 * `--wait` and `status` on a failed workflow print the root cause of its failure chain (as the Temporal
 * client delivers it: WorkflowFailedError → ActivityFailure → ApplicationFailure), on one line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { failureCause, isTemporalFailure } from '../../../client/failureCause.ts';

describe('failureCause', () => {
  it('walks workflow → activity → application failure to the message naming the file', () => {
    const root = ApplicationFailure.nonRetryable(
      'task: /data/problems.jsonl: no usable row in the first 3\n  (row 1: field "problem" is missing)',
      'RunConfigError',
    );
    const activity = new ActivityFailure(
      'Activity task failed',
      'prepareRun',
      '1',
      RetryState.NON_RETRYABLE_FAILURE,
      'worker',
      root,
    );
    const workflow = new WorkflowFailedError(
      'Workflow execution failed',
      activity,
      RetryState.NON_RETRYABLE_FAILURE,
    );
    assert.equal(isTemporalFailure(workflow), true);
    assert.equal(isTemporalFailure(new Error('plain')), false);
    assert.equal(
      failureCause(workflow),
      'failed in activity prepareRun: RunConfigError: task: /data/problems.jsonl: no usable row in the first 3; (row 1: field "problem" is missing)',
    );
  });

  it('a failure of the workflow itself has no activity; a huge message is cut', () => {
    const root = ApplicationFailure.nonRetryable(`bad ${'x'.repeat(10_000)}`, 'ResumeError');
    const line = failureCause(
      new WorkflowFailedError('Workflow execution failed', root, RetryState.NON_RETRYABLE_FAILURE),
    );
    assert.match(line, /^failed: ResumeError: bad x+/);
    assert.ok(line.length <= 2000);
  });
});
