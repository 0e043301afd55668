/**
 * `--wait` and `status` on a failed workflow print the root cause of its failure chain (as the Temporal
 * client delivers it: WorkflowFailedError → ActivityFailure → ApplicationFailure), on one line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failureCause, isTemporalFailure } from '../../../client/failureCause.ts';
import { newestCheckpointStep, startLine } from '../../../client/runs.ts';
import type { RunConfig } from '../../../core/config/run.ts';
import { manifestKey, openStore } from '../../../core/store/index.ts';

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

describe('the start line of reasonloop train', () => {
  it('says "starting" for a new run and "resuming … from step N" for one with a checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reasonloop-startline-'));
    const config = { runId: 'r1', store: { url: dir } } as unknown as RunConfig;
    assert.equal(startLine('r1', await newestCheckpointStep(config)), 'starting run r1');
    const store = openStore(dir);
    await store.put(manifestKey('r1', 4), new TextEncoder().encode('{}'));
    assert.equal(startLine('r1', await newestCheckpointStep(config)), 'resuming run r1 from step 4');
  });
});
