/**
 * A mixed fleet on one dev server, without a GPU: a run whose config puts rollouts on "cuda" sends
 * sampleRollouts to `<rollout queue>-gpu`, where only a worker started with device cuda polls; a CPU
 * rollout worker on the base queue takes nothing. Here that GPU worker has no GPU, so its CUDA session
 * fails and the step waits (no fall back to the CPU); an evaluation on cuda goes the same way. Before that: `reasonloop train` refuses a cuda config
 * no GPU worker polls for, and a run started past the CLI waits in prepareRun with the same reason. A run
 * whose trainer is on cuda computes the KL reference's log-probs there too (referenceLogProbs on
 * `<trainer queue>-gpu`), not on the cpu queue where scoreRollouts runs.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { checkGpuWorkers, NoGpuWorkerError, runQueues } from '../../../client/gpuWorkers.ts';
import { trainCommand } from '../../../cli/commands/train.ts';
import { parseRunConfig, type RunConfigInput } from '../../../core/config/run.ts';
import { createWorkers, type Role } from '../../../workers/workers.ts';
import { statusQuery } from '../../../workflows/definitions.ts';
import {
  runWorkers,
  startHarness,
  tempStoreDir,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
  type RunningWorkers,
} from './harness.ts';

const TEST_TIMEOUT_MS = 180_000;
/** How long to wait for a poller to show up in DescribeTaskQueue, or a pending activity's failure. */
const SETTLE_MS = 60_000;

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

function cudaRun(
  runId: string,
  queues: Record<Role, string>,
  devices: { rollout?: 'cpu' | 'cuda'; trainer?: 'cpu' | 'cuda' },
): RunConfigInput {
  const base = tinyRunConfig(runId, tempStoreDir(), queues, { steps: 1 });
  return { ...base, orchestration: { ...base.orchestration, devices } };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The last failure of the workflow's pending activity of `type`, once it has one. */
async function pendingFailure(handle: WorkflowHandle, type: string): Promise<string> {
  return until(`a failed ${type} attempt`, async () => {
    const { raw } = await handle.describe();
    const pending = (raw.pendingActivities ?? []).find((a) => a.activityType?.name === type);
    return pending?.lastFailure?.message ?? undefined;
  });
}

describe('GPU task queues', { timeout: TEST_TIMEOUT_MS }, () => {
  it('routes cuda activities to -gpu queues, refuses to start without GPU workers, never falls back', async () => {
    const queues = uniqueQueues('gpu');
    const rolloutGpu = `${queues.rollout}-gpu`;
    const trainerGpu = `${queues.trainer}-gpu`;

    // No GPU worker yet: the CLI refuses the config, naming both fields and queues.
    const both = cudaRun('gpu-cli', queues, { rollout: 'cuda', trainer: 'cuda' });
    const file = join(tempStoreDir(), 'run.json');
    writeFileSync(file, JSON.stringify(both));
    await assert.rejects(trainCommand.run(['--config', file]), (error: Error) => {
      assert.ok(error instanceof NoGpuWorkerError, error.message);
      assert.match(error.message, /run\.orchestration\.devices\.rollout is "cuda"/);
      assert.ok(error.message.includes(`no worker polls task queue ${rolloutGpu}`), error.message);
      assert.ok(error.message.includes(`no worker polls task queue ${trainerGpu}`), error.message);
      assert.match(error.message, /workers\/main\.ts --roles trainer --device cuda/);
      return true;
    });
    await assert.rejects(h.client.workflow.getHandle('gpu-cli').describe(), /not found/i);

    // CPU workers for every role, and a "GPU" rollout worker (this machine has no GPU, and createWorkers
    // skips the device check workers/main.ts does, so its sessions fail as a broken GPU worker's would).
    const cpu = await runWorkers(h, queues);
    const gpuWorkers = await createWorkers({
      roles: ['rollout'],
      connection: h.nativeConnection,
      namespace: h.namespace,
      queues,
      device: { kind: 'cuda', index: 0 },
    });
    const gpuRunning = Promise.all(gpuWorkers.map((w) => w.run()));
    const gpu: RunningWorkers = {
      workers: gpuWorkers,
      async stop() {
        for (const w of gpuWorkers) if (w.getState() === 'RUNNING') w.shutdown();
        await gpuRunning;
      },
    };
    try {
      await until('the GPU worker to poll', async () => {
        try {
          await checkGpuWorkers(
            h.client,
            runQueues(parseRunConfig(cudaRun('x', queues, { rollout: 'cuda' }))),
          );
          return true;
        } catch (error) {
          if (error instanceof NoGpuWorkerError) return undefined;
          throw error;
        }
      });

      // Started past the CLI (as `temporal workflow start` would), the trainer's missing GPU worker holds
      // the run in prepareRun, with the reason as the attempt's failure.
      const waiting = await h.client.workflow.start('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: 'gpu-prepare',
        args: [both],
      });
      const prepare = await pendingFailure(waiting, 'prepareRun');
      assert.ok(prepare.includes(`no worker polls task queue ${trainerGpu}`), prepare);
      assert.ok(!prepare.includes(rolloutGpu), prepare);
      await waiting.terminate('test done');

      // Rollouts on cuda, trainer on cpu: sampleRollouts reaches the GPU worker only; its CUDA session
      // fails, and the step does not happen on the CPU rollout worker polling the base queue.
      const handle = await h.client.workflow.start('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: 'gpu-route',
        args: [cudaRun('gpu-route', queues, { rollout: 'cuda' })],
      });
      const sample = await pendingFailure(handle, 'sampleRollouts');
      assert.match(sample, /AppendExecutionProvider_Cuda: Failed to load shared library/);
      const { raw } = await handle.describe();
      const attempt = (raw.pendingActivities ?? []).find((a) => a.activityType?.name === 'sampleRollouts');
      assert.equal(attempt?.lastWorkerIdentity, gpuWorkers[0].options.identity);
      const status = await handle.query(statusQuery);
      assert.equal(status.step, 0);
      assert.equal(status.phase, 'sampling');
      await handle.terminate('test done');

      // An evaluation on cuda goes to the same GPU worker, and fails there the same way.
      const evaluation = await h.client.workflow.start('evaluation', {
        taskQueue: queues.workflow,
        workflowId: 'gpu-eval',
        args: [
          {
            evalId: 'gpu-eval',
            model: both.model,
            task: { kind: 'reverseDigits', digits: 2 },
            limit: 2,
            store: { url: tempStoreDir() },
            orchestration: { taskQueue: queues.rollout, device: 'cuda' },
          },
        ],
      });
      const evaluate = await pendingFailure(evaluation, 'evaluateModel');
      assert.match(evaluate, /AppendExecutionProvider_Cuda: Failed to load shared library/);
      await evaluation.terminate('test done');
    } finally {
      await gpu.stop();
      await cpu.stop();
    }
  });

  it('computes the reference log-probs of a cuda trainer on its -gpu queue, never on the CPU', async () => {
    const queues = uniqueQueues('gpuref');
    // CPU workers for every role, and a "GPU" trainer worker (no GPU here: its CUDA session fails).
    const cpu = await runWorkers(h, queues);
    const gpuWorkers = await createWorkers({
      roles: ['trainer'],
      connection: h.nativeConnection,
      namespace: h.namespace,
      queues,
      device: { kind: 'cuda', index: 0 },
    });
    const gpuRunning = Promise.all(gpuWorkers.map((w) => w.run()));
    const runId = `gpu-reference-${Date.now().toString(36)}`;
    const config = cudaRun(runId, queues, { trainer: 'cuda' });
    assert.equal(parseRunConfig(config).algorithm.kl.placement, 'reward', 'the run has a KL term');
    const handle = await h.client.workflow.start('rlTraining', {
      taskQueue: queues.workflow,
      workflowId: runId,
      args: [config],
    });
    try {
      const failure = await pendingFailure(handle, 'referenceLogProbs');
      assert.match(failure, /AppendExecutionProvider_Cuda: Failed to load shared library/);
      const { raw } = await handle.describe();
      const pending = (raw.pendingActivities ?? []).map((a) => a.activityType?.name);
      assert.deepEqual(pending, ['referenceLogProbs'], 'scoring waits for the reference');
      const attempt = (raw.pendingActivities ?? [])[0];
      assert.equal(attempt.lastWorkerIdentity, gpuWorkers[0].options.identity);
      const history = await handle.fetchHistory();
      const scheduled = (history.events ?? []).flatMap((e) => {
        const a = e.activityTaskScheduledEventAttributes;
        return a ? [`${a.activityType?.name}@${a.taskQueue?.name}`] : [];
      });
      assert.ok(scheduled.includes(`referenceLogProbs@${queues.trainer}-gpu`), scheduled.join(', '));
      assert.ok(!scheduled.some((s) => s.startsWith('scoreRollouts')), scheduled.join(', '));
      const status = await handle.query(statusQuery);
      assert.equal(status.step, 0);
      assert.equal(status.phase, 'scoring');
    } finally {
      // The run waits for a GPU that is not there: it never ends by itself.
      await handle.terminate('test done');
      for (const w of gpuWorkers) if (w.getState() === 'RUNNING') w.shutdown();
      await gpuRunning;
      await cpu.stop();
    }
  });
});
