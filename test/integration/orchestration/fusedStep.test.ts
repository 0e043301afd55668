/**
 * orchestration.fusedStep against a real Temporal dev server: a run whose steps after sampling are one
 * trainStep activity on the trainer ends with the same weights, bit for bit, and records the same metrics
 * as the same run in separate activities; interrupted after step 2 and resumed with the separate
 * activities, it still ends with those weights (the option may change on resume).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { latestVerifiedCheckpoint, listCheckpointSteps, openStore } from '../../../core/store/index.ts';
import { runMetricsHistory } from '../../../core/metrics/history.ts';
import type { TrainingResult } from '../../../workflows/definitions.ts';
import {
  runWorkers,
  startHarness,
  tempStoreDir,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from './harness.ts';

const TEST_TIMEOUT_MS = 300_000;
/** An activity running when its workflow is terminated still completes: wait before reading the store. */
const SETTLE_MS = 1500;
const STEPS = 4;

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

function uniqueRunId(label: string): string {
  return `${label}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
}

async function activityNames(workflowId: string): Promise<string[]> {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((n): n is string => typeof n === 'string');
}

/** What a step's metrics measure of the machine (time, memory): they differ between any two runs. */
const MEASURED = ['timing/', 'perf/', 'memory/'];

/** A step's metrics without the measured ones. */
function untimed(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter(([k]) => !MEASURED.some((m) => k.startsWith(m))));
}

describe('rlTraining with orchestration.fusedStep', () => {
  it(
    'trains, checkpoints and records the same as the separate activities, with one trainer activity a step',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('fused');
      const workers = await runWorkers(h, queues);
      try {
        const runs: { id: string; result: TrainingResult; storeUrl: string }[] = [];
        for (const fusedStep of [false, true]) {
          const id = uniqueRunId(fusedStep ? 'fused' : 'separate');
          const storeUrl = tempStoreDir();
          const base = tinyRunConfig(id, storeUrl, queues, { steps: STEPS });
          const result: TrainingResult = await h.client.workflow.execute('rlTraining', {
            taskQueue: queues.workflow,
            workflowId: id,
            args: [{ ...base, orchestration: { ...base.orchestration, fusedStep } }],
          });
          runs.push({ id, result, storeUrl });
        }
        const [separate, fused] = runs;
        assert.equal(fused.result.step, STEPS);
        assert.equal(fused.result.weightsSha256, separate.result.weightsSha256);
        const names = await activityNames(fused.id);
        assert.equal(names.filter((n) => n === 'trainStep').length, STEPS);
        for (const apart of ['referenceLogProbs', 'scoreRollouts', 'updatePolicy', 'checkpoint']) {
          assert.ok(!names.includes(apart), `the fused run scheduled ${apart}`);
        }
        assert.ok((await activityNames(separate.id)).includes('referenceLogProbs'), 'the run has a KL term');
        assert.deepEqual(untimed(fused.result.metrics), untimed(separate.result.metrics));
        for (let step = 1; step <= STEPS; step++) {
          const [a, b] = await Promise.all(
            [separate, fused].map(async (r) => {
              const log = await runMetricsHistory(openStore(r.storeUrl), r.id);
              return untimed(log.find((m) => m.step === step)!.metrics);
            }),
          );
          assert.deepEqual(b, a, `step ${step}'s metrics`);
        }
      } finally {
        await workers.stop();
      }
    },
  );

  it(
    'interrupted after step 2 and resumed in separate activities, ends with the uninterrupted weights',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('fused-resume');
      const workers = await runWorkers(h, queues);
      try {
        const straightId = uniqueRunId('straight');
        const straight: TrainingResult = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: straightId,
          args: [tinyRunConfig(straightId, tempStoreDir(), queues, { steps: STEPS })],
        });
        const runId = uniqueRunId('fused-resumed');
        const config = tinyRunConfig(runId, tempStoreDir(), queues, { steps: STEPS });
        const handle = await h.client.workflow.start('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runId,
          args: [{ ...config, orchestration: { ...config.orchestration, fusedStep: true } }],
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
        assert.ok(interruptedAt >= 2 && interruptedAt < STEPS, `interrupted after step ${interruptedAt}`);

        const resumed: TrainingResult = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runId,
          args: [config],
        });
        assert.equal(resumed.step, STEPS);
        assert.equal(resumed.weightsSha256, straight.weightsSha256);
        const second = await activityNames(runId);
        assert.equal(second.filter((n) => n === 'updatePolicy').length, STEPS - interruptedAt);
      } finally {
        await workers.stop();
      }
    },
  );
});
