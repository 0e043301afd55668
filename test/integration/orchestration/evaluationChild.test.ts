/**
 * run.evaluation.every: rlTraining starts an `evaluation` child workflow for every E-th checkpoint; the
 * children outlive nothing they need (ABANDON) and evaluate exactly the checkpoint of their step.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { EvaluationSummary } from '../../../core/metrics/evaluation.ts';
import type { TrainingResult } from '../../../workflows/definitions.ts';
import { statusQuery } from '../../../workflows/definitions.ts';
import {
  runWorkers,
  startHarness,
  tempStoreDir,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from './harness.ts';

const TEST_TIMEOUT_MS = 300_000;

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

it(
  'evaluates every checkpoint named by evaluation.every as a child workflow',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const queues = uniqueQueues('eval-child');
    const runId = `eval-child-${Date.now().toString(36)}`;
    const store = tempStoreDir();
    const config = tinyRunConfig(runId, store, queues, {
      steps: 4,
      evaluation: { every: 2, sampling: { temperature: 0, maxNewTokens: 3 }, limit: 10 },
    });
    const workers = await runWorkers(h, queues);
    try {
      const result: TrainingResult = await h.client.workflow.execute('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: runId,
        args: [config],
      });
      assert.equal(result.step, 4);
      const status = await h.client.workflow.getHandle(runId).query(statusQuery);
      assert.deepEqual(status.evaluations, [`${runId}-eval-2`, `${runId}-eval-4`]);
      for (const step of [2, 4]) {
        const summary: EvaluationSummary = await h.client.workflow
          .getHandle(`${runId}-eval-${step}`)
          .result();
        assert.equal(summary.model, `checkpoint:${runId}@${step}`);
        assert.equal(summary.step, step);
        assert.equal(summary.problems, 10);
        assert.equal(summary.evalId, `${runId}-eval`);
        assert.ok(summary.accuracy >= 0 && summary.accuracy <= 1);
      }
    } finally {
      await workers.stop();
    }
  },
);
