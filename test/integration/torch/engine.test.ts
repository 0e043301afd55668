/**
 * orchestration.trainer.engine "torch" end to end: a real rlTraining workflow on the real dev server with
 * versitygw S3, the TypeScript workflow, rollout, cpu and trainer workers in this process and the torch
 * trainer worker (`torchrun --nproc-per-node 2`, two gloo ranks) beside them. Every updatePolicy goes to
 * the torch worker (its shared `-torch` queue or its own), every checkpoint to the TypeScript trainer, and
 * after 3 steps the weights are within float32 rounding of the same run on the ONNX trainer. Before the
 * torch worker starts, `reasonloop train`'s check refuses the torch run, naming the queue and the command.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { readCheckpointState } from '../../../activities/trainerState.ts';
import { checkTorchTrainer, NoTorchTrainerError } from '../../../client/torchTrainer.ts';
import { parseRunConfig, type RunConfig, type RunConfigInput } from '../../../core/config/run.ts';
import { runMetricsHistory } from '../../../core/metrics/history.ts';
import { openStore, verifyCheckpoint } from '../../../core/store/index.ts';
import type { TrainingResult } from '../../../workflows/definitions.ts';
import {
  runWorkers,
  startHarness,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from '../orchestration/harness.ts';
import { scheduledActivities, startTorchWorker, stopTorchWorker } from './torchWorker.ts';

const STEPS = 3;
/** As test/integration/torch/worker.test.ts: float32 loss and metrics agree to 1e-4 relative, weights to 1e-4. */
const METRIC_TOLERANCE = 1e-4;
const WEIGHT_TOLERANCE = 1e-4;
/** The update metrics both engines compute (the others are timings, or come from sampling and scoring). */
const UPDATE_METRICS = ['loss', 'pgLoss', 'entropy', 'gradNorm', 'approxKl', 'clipFracHigh', 'clipFracLow'];

const POLLER_WAIT_MS = 30_000;

let h: Harness;
let torch: ChildProcess | undefined;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await stopTorchWorker(torch);
  await h?.stop();
});

/** Waits until the check passes: rank 0 says which queues it polls just before its pollers reach the server. */
async function torchTrainerPolls(config: RunConfig): Promise<void> {
  const deadline = Date.now() + POLLER_WAIT_MS;
  for (;;) {
    try {
      return await checkTorchTrainer(h.client, config);
    } catch (error) {
      if (!(error instanceof NoTorchTrainerError) || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

test(
  'a run with orchestration.trainer.engine "torch" trains on the torch worker, checkpoints on TypeScript, and matches the ONNX run',
  { timeout: 600_000 },
  async () => {
    const queues = uniqueQueues('engine');
    const id = `engine-${process.pid}-${Date.now().toString(36)}`;
    const storeUrl = `s3://orchestration/${id}`;
    const configOf = (runId: string, engine: 'onnx' | 'torch'): RunConfigInput => {
      const c = tinyRunConfig(runId, storeUrl, queues, {
        steps: STEPS,
        algorithm: { miniBatchSize: 16, microBatchSize: 8, optimizer: { lr: 1e-2 } },
      });
      return { ...c, orchestration: { ...c.orchestration, trainer: { engine } } };
    };
    const runs = { torch: configOf(`${id}-torch`, 'torch'), onnx: configOf(`${id}-onnx`, 'onnx') };

    // `reasonloop train`'s check: no torch worker polls yet, so the torch run is refused with the command
    // that starts one; the ONNX run needs none.
    const parsed = { torch: parseRunConfig(runs.torch), onnx: parseRunConfig(runs.onnx) };
    await assert.rejects(checkTorchTrainer(h.client, parsed.torch), (e: Error) => {
      assert.ok(e instanceof NoTorchTrainerError, String(e));
      assert.match(
        e.message,
        /run\.orchestration\.trainer\.engine is "torch", but no worker polls task queue \S+-trainer-torch/,
      );
      assert.match(
        e.message,
        /torchrun --nproc-per-node N --max-restarts 3 -m reasonloop_torch\.worker --task-queue \S+-trainer /,
      );
      return true;
    });
    await checkTorchTrainer(h.client, parsed.onnx);
    torch = await startTorchWorker(queues.trainer, h);
    await torchTrainerPolls(parsed.torch);
    const workers = await runWorkers(h, queues);
    try {
      for (const which of ['torch', 'onnx'] as const) {
        const result: TrainingResult = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runs[which].runId,
          args: [runs[which]],
        });
        assert.equal(result.step, STEPS, which);
      }
    } finally {
      await workers.stop();
    }

    // Routing: the torch run asked the torch queue for a trainer and sent it every update; its checkpoints,
    // and everything the ONNX run's trainer did, went to the TypeScript trainer queue or its own queues.
    const torchQueue = `${queues.trainer}-torch`;
    const a = await scheduledActivities(h.client, runs.torch.runId);
    const updates = a.filter(([type]) => type === 'updatePolicy');
    assert.equal(updates.length, STEPS);
    for (const [type, queue] of a) {
      if (type === 'updatePolicy' || type === 'trainerQueue') {
        assert.ok(queue.startsWith(torchQueue), `torch run: ${type} on ${queue}`);
      }
      if (type === 'checkpoint') assert.equal(queue, queues.trainer, `torch run: checkpoint on ${queue}`);
    }
    assert.ok(
      updates.every(([, queue]) => queue !== torchQueue),
      "the updates stick to the torch worker's own queue",
    );
    for (const [type, queue] of await scheduledActivities(h.client, runs.onnx.runId)) {
      if (type === 'updatePolicy' || type === 'checkpoint' || type === 'trainerQueue') {
        assert.ok(!queue.startsWith(torchQueue), `onnx run: ${type} on ${queue}`);
      }
    }

    // The same rollouts (sampling depends on the seed and the weights), so the same update metrics at step 1.
    const store = openStore(storeUrl);
    const [ma, mb] = await Promise.all([
      runMetricsHistory(store, runs.torch.runId),
      runMetricsHistory(store, runs.onnx.runId),
    ]);
    const first = (h: typeof ma) => h.find((s) => s.step === 1)!.metrics;
    for (const name of UPDATE_METRICS) {
      const [x, y] = [first(ma)[name], first(mb)[name]];
      const d = Math.abs(x - y) / Math.max(Math.abs(y), 1e-6);
      assert.ok(d <= METRIC_TOLERANCE, `step 1 ${name}: torch ${x}, onnx ${y}`);
    }

    // The final weights and AdamW moments: within float32 rounding of each other.
    const readFinal = async (runId: string) => {
      const v = await verifyCheckpoint(store, runId, STEPS);
      assert.ok('manifest' in v, `${runId} checkpoint ${STEPS}: ${'problem' in v ? v.problem : ''}`);
      return (await readCheckpointState(store, v.manifest)).state;
    };
    const mine = await readFinal(runs.torch.runId);
    const theirs = await readFinal(runs.onnx.runId);
    assert.equal(mine.step, theirs.step);
    let worst = 0;
    for (const [name, t] of Object.entries(theirs.params)) {
      const m = mine.params[name].data;
      assert.equal(m.length, t.data.length, name);
      for (let k = 0; k < t.data.length; k++)
        worst = Math.max(worst, Math.abs(Number(m[k]) - Number(t.data[k])));
    }
    assert.ok(worst < WEIGHT_TOLERANCE, `weights after ${STEPS} steps: largest difference ${worst}`);
    console.log(JSON.stringify({ engineRunWeightMaxAbsDiff: worst, steps: STEPS, updates: updates.length }));
  },
);
