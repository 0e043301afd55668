/**
 * rlTraining against a real Temporal dev server and a real object store (S3 via versitygw, or a local
 * folder): a run completes with every step's activities in the history; an interrupted run (terminated,
 * then started again with the same run id) and a run that continues as new end with the same weights,
 * bit for bit, as an uninterrupted run of the same seed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import {
  latestVerifiedCheckpoint,
  listCheckpointSteps,
  openStore,
  verifyCheckpoint,
} from '../../../core/store/index.ts';
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

/** A hung run fails its test instead of hanging the suite (each run takes seconds; CI machines are shared). */
const TEST_TIMEOUT_MS = 300_000;

/**
 * An activity already running when its workflow is terminated still completes (a checkpoint may land just
 * after): wait this long before reading what the interrupted run left.
 */
const SETTLE_MS = 1500;

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

/** The innermost cause: WorkflowFailedError → ActivityFailure → ApplicationFailure. */
function rootCause(error: Error): Error {
  let e = error;
  while (e.cause instanceof Error) e = e.cause;
  return e;
}

function uniqueRunId(label: string): string {
  return `${label}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
}

async function activityNames(workflowId: string, runId?: string): Promise<string[]> {
  const history = await h.client.workflow.getHandle(workflowId, runId).fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((n): n is string => typeof n === 'string');
}

describe('rlTraining on a real Temporal server', () => {
  it(
    'runs 3 steps of a tiny model end to end with the S3 store; the history names each activity',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('e2e');
      const runId = uniqueRunId('e2e');
      const config = tinyRunConfig(runId, `s3://orchestration/${runId}`, queues);
      const workers = await runWorkers(h, queues);
      try {
        const result: TrainingResult = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runId,
          args: [config],
        });
        assert.equal(result.step, 3);
        assert.equal(result.stopped, false);
        assert.match(result.weightsSha256, /^[0-9a-f]{64}$/);
        const names = await activityNames(runId);
        assert.deepEqual(names.filter((n) => n === 'sampleRollouts').length, 3 * 2, 'two shards per step');
        for (const name of [
          'prepareRun',
          'referenceLogProbs',
          'scoreRollouts',
          'updatePolicy',
          'checkpoint',
        ]) {
          assert.equal(names.filter((n) => n === name).length, name === 'prepareRun' ? 1 : 3, name);
        }
        const store = openStore(config.store.url);
        const latest = await latestVerifiedCheckpoint(store, runId);
        assert.equal(latest.manifest?.step, 3);
        const weights = latest.manifest!.objects.find((o) => o.name === 'weights/model.safetensors');
        assert.equal(weights?.sha256, result.weightsSha256);
        assert.ok(
          latest.manifest!.objects.some((o) => o.name === 'weights/config.json'),
          'an HF model dir',
        );
        assert.ok(Number.isFinite(latest.manifest!.metrics.meanTaskReward));
        // Training moved the weights (the equality checks of the other tests are not vacuous).
        const initial = await verifyCheckpoint(store, runId, 0);
        assert.ok('manifest' in initial, 'step 0 kept by retention (0 is a multiple of keepWeightsEvery)');
        const initialWeights = initial.manifest.objects.find((o) => o.name === 'weights/model.safetensors');
        assert.notEqual(initialWeights?.sha256, result.weightsSha256);
        const status = await h.client.workflow.getHandle(runId).query(statusQuery);
        assert.equal(status.phase, 'done');
        assert.equal(status.step, 3);

        // Starting a finished run again would do 0 steps: that is an error, not a success.
        await assert.rejects(
          h.client.workflow.execute('rlTraining', {
            taskQueue: queues.workflow,
            workflowId: runId,
            args: [config],
          }),
          (error: Error) => {
            assert.match(rootCause(error).message, /would do 0 steps/);
            assert.equal((rootCause(error) as ApplicationFailure).type, 'ResumeError');
            return true;
          },
        );
      } finally {
        await workers.stop();
      }
    },
  );

  it(
    'terminate + start again with the same run id ends with the same weights as an uninterrupted run',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('resume');
      const workers = await runWorkers(h, queues);
      try {
        const steps = 4;
        const straightId = uniqueRunId('straight');
        const straight: TrainingResult = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: straightId,
          args: [tinyRunConfig(straightId, tempStoreDir(), queues, { steps })],
        });

        const runId = uniqueRunId('resumed');
        const config = tinyRunConfig(runId, tempStoreDir(), queues, { steps });
        // Same seed and config except the run id: the run id is not an RNG input.
        const handle = await h.client.workflow.start('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runId,
          args: [config],
        });
        const store = openStore(config.store.url);
        const deadline = Date.now() + 60_000;
        while ((await listCheckpointSteps(store, runId)).withManifest.filter((s) => s >= 2).length === 0) {
          assert.ok(Date.now() < deadline, 'step 2 was not checkpointed within 60 s');
          await new Promise((r) => setTimeout(r, 50));
        }
        await handle.terminate('test: interrupt mid-run');
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const interruptedAt = (await latestVerifiedCheckpoint(store, runId)).manifest!.step;
        assert.ok(interruptedAt >= 2 && interruptedAt < steps, `interrupted after step ${interruptedAt}`);

        const resumed: TrainingResult = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runId,
          args: [config],
        });
        assert.equal(resumed.step, steps);
        assert.equal(resumed.weightsSha256, straight.weightsSha256);
        // The second run did only the remaining steps.
        const second = await activityNames(runId);
        assert.equal(second.filter((n) => n === 'updatePolicy').length, steps - interruptedAt);
      } finally {
        await workers.stop();
      }
    },
  );

  it(
    'continue-as-new every 2 steps over 5 steps gives the same weights as one workflow run',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('can');
      const workers = await runWorkers(h, queues);
      try {
        const steps = 5;
        const results: TrainingResult[] = [];
        const infos: WorkflowExecutionDescription[] = [];
        for (const every of [100, 2]) {
          const runId = uniqueRunId(`can${every}`);
          const handle = await h.client.workflow.start('rlTraining', {
            taskQueue: queues.workflow,
            workflowId: runId,
            args: [
              tinyRunConfig(runId, tempStoreDir(), queues, {
                steps,
                orchestration: {
                  continueAsNewEvery: every,
                  taskQueues: { rollout: queues.rollout, cpu: queues.cpu, trainer: queues.trainer },
                },
              }),
            ],
          });
          results.push(await handle.result());
          infos.push(await h.client.workflow.getHandle(runId).describe());
          if (every === 2) assert.notEqual(infos[1].runId, handle.firstExecutionRunId, 'continued as new');
        }
        assert.equal(results[0].step, steps);
        assert.equal(results[1].step, steps);
        assert.equal(results[1].weightsSha256, results[0].weightsSha256);
      } finally {
        await workers.stop();
      }
    },
  );
});
