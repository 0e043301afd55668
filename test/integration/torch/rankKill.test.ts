/**
 * A torch trainer rank killed mid-update, end to end: a real rlTraining workflow (engine "torch") on the
 * real dev server and versitygw S3, the TypeScript workflow, rollout, cpu and trainer workers in this process
 * and the torch worker beside them (`torchrun --nproc-per-node 2 --max-restarts 1`, two gloo ranks). Run
 * "whole" trains 4 steps untouched; run "killed", the same config, has rank 1 killed with SIGKILL while it
 * updates step 2. torchrun stops rank 0 and starts both ranks again; the update's heartbeats stop, the
 * workflow asks the torch queue for a trainer again and the restarted one reloads checkpoint 1. The run
 * finishes with the whole run's weights and AdamW state, sha256 for sha256, each step updated and
 * checkpointed exactly once.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import proto from '@temporalio/proto';
import type { RunConfigInput } from '../../../core/config/run.ts';
import { runMetricsHistory } from '../../../core/metrics/history.ts';
import { listCheckpointSteps, openStore, verifyCheckpoint } from '../../../core/store/index.ts';
import type { TrainingResult } from '../../../workflows/definitions.ts';
import {
  runWorkers,
  startHarness,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from '../orchestration/harness.ts';
import { startTorchWorker, stopTorchWorker } from './torchWorker.ts';

const STEPS = 4;
const KILLED_STEP = 2;
const HEARTBEAT = proto.temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT;
/** Short, so that the dead update is noticed within seconds (the default is 60). */
const HEARTBEAT_SECONDS = 8;

/** Each run's limit: a hang fails the test with what the ranks printed, before the test's own timeout. */
const RUN_SECONDS = 120;

let h: Harness;
let torch: ChildProcess | undefined;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await stopTorchWorker(torch);
  await h?.stop();
});

async function withinSeconds<T>(seconds: number, p: Promise<T>, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done after ${seconds} s: ${what()}`)), seconds * 1000);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface ActivityRun {
  type: string;
  step?: number;
  /** completed, failed, heartbeat timeout, other timeout, or pending. */
  outcome: string;
}

/** How an activity attempt's closing event ended it, and which scheduled event it closes. */
function ending(
  e: proto.temporal.api.history.v1.IHistoryEvent,
): { scheduledEventId: string; outcome: string } | undefined {
  const done = e.activityTaskCompletedEventAttributes;
  if (done) return { scheduledEventId: String(done.scheduledEventId), outcome: 'completed' };
  const failed = e.activityTaskFailedEventAttributes;
  if (failed) return { scheduledEventId: String(failed.scheduledEventId), outcome: 'failed' };
  const late = e.activityTaskTimedOutEventAttributes;
  if (!late) return undefined;
  const heartbeat = late.failure?.timeoutFailureInfo?.timeoutType === HEARTBEAT;
  return {
    scheduledEventId: String(late.scheduledEventId),
    outcome: heartbeat ? 'heartbeat timeout' : 'other timeout',
  };
}

/** Every activity the workflow scheduled, with the step of its input and how it ended. */
async function activityRuns(workflowId: string): Promise<ActivityRun[]> {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  const runs = new Map<string, ActivityRun>();
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const payload = scheduled.input?.payloads?.[0]?.data;
      const input = payload ? JSON.parse(Buffer.from(payload).toString()) : undefined;
      runs.set(id, { type: scheduled.activityType!.name!, step: input?.step, outcome: 'pending' });
    }
    const end = ending(e);
    if (end) runs.get(end.scheduledEventId)!.outcome = end.outcome;
  }
  return [...runs.values()];
}

test(
  "rank 1 of the torch trainer killed with SIGKILL mid-update: the run finishes with the uninterrupted run's weights, no step lost or done twice",
  { timeout: 300_000 },
  async () => {
    const queues = uniqueQueues('rankkill');
    const id = `rankkill-${process.pid}-${Date.now().toString(36)}`;
    const storeUrl = `s3://orchestration/${id}`;
    const configOf = (runId: string): RunConfigInput => {
      const c = tinyRunConfig(runId, storeUrl, queues, {
        steps: STEPS,
        algorithm: { miniBatchSize: 16, microBatchSize: 8, optimizer: { lr: 1e-2 } },
      });
      return {
        ...c,
        orchestration: {
          ...c.orchestration,
          heartbeatTimeoutSeconds: HEARTBEAT_SECONDS,
          trainer: { engine: 'torch' },
        },
      };
    };
    const runs = { whole: configOf(`${id}-whole`), killed: configOf(`${id}-killed`) };

    // Rank 1 says which process updates which step of which run; the killer waits for the killed run's.
    const updating = new RegExp(
      `rank 1 \\(pid (\\d+)\\) updates step ${KILLED_STEP} of run ${runs.killed.runId}\\b`,
    );
    let output = '';
    let killedPid: number | undefined;
    const starts = () => output.split(`polls ${queues.trainer}-torch `).length - 1;
    torch = await startTorchWorker(queues.trainer, h, {
      maxRestarts: 1,
      onOutput(text) {
        output += text;
        const m = killedPid === undefined ? updating.exec(output) : null;
        if (m) {
          killedPid = Number(m[1]);
          process.kill(killedPid, 'SIGKILL');
        }
      },
    });
    const workers = await runWorkers(h, queues);
    const started = Date.now();
    const seconds: Record<string, number> = {};
    try {
      for (const which of ['whole', 'killed'] as const) {
        const t = Date.now();
        const result: TrainingResult = await withinSeconds(
          RUN_SECONDS,
          h.client.workflow.execute('rlTraining', {
            taskQueue: queues.workflow,
            workflowId: runs[which].runId,
            args: [runs[which]],
          }),
          () => `run ${which}; the torch worker printed:\n${output}`,
        );
        assert.equal(result.step, STEPS, which);
        seconds[which] = (Date.now() - t) / 1000;
      }
    } finally {
      await workers.stop();
    }
    assert.ok(
      killedPid !== undefined,
      `rank 1 never updated step ${KILLED_STEP} of the killed run:\n${output}`,
    );
    assert.equal(starts(), 2, `torchrun started the ranks once more after the kill:\n${output}`);

    // The killed attempt was running (started, then its heartbeats stopped or rank 0 failed it); every
    // step's update and checkpoint then completed exactly once, in order.
    const activities = await activityRuns(runs.killed.runId);
    const updates = activities.filter((a) => a.type === 'updatePolicy');
    const lost = updates.filter((a) => a.outcome !== 'completed');
    assert.ok(lost.length >= 1, `an update of the killed run failed: ${JSON.stringify(updates)}`);
    for (const a of lost) {
      assert.equal(a.step, KILLED_STEP, JSON.stringify(updates));
      assert.match(a.outcome, /^(failed|heartbeat timeout)$/, JSON.stringify(updates));
    }
    for (const type of ['updatePolicy', 'checkpoint']) {
      const done = activities.filter((a) => a.type === type && a.outcome === 'completed').map((a) => a.step);
      assert.deepEqual(done, [1, 2, 3, 4], `${type} completed once per step`);
    }
    const store = openStore(storeUrl);
    // The same checkpoints kept (retention prunes some) and no half-written step left behind.
    const kept = await listCheckpointSteps(store, runs.killed.runId);
    assert.deepEqual(kept, await listCheckpointSteps(store, runs.whole.runId));
    assert.deepEqual(kept.withoutManifest, []);
    const history = await runMetricsHistory(store, runs.killed.runId);
    assert.deepEqual(
      history.map((s) => s.step),
      [1, 2, 3, 4],
      'the metrics log has each step once',
    );

    // Deterministic algorithms on both ranks, and a reload that restores every bit: the same final
    // weights and AdamW moments as the run nobody interrupted.
    const finalObjects = async (runId: string) => {
      const v = await verifyCheckpoint(store, runId, STEPS);
      assert.ok('manifest' in v, `${runId} checkpoint ${STEPS}: ${'problem' in v ? v.problem : ''}`);
      return v.manifest.objects
        .filter((o) => o.name.startsWith('weights/') || o.name.startsWith('optimizer/'))
        .map((o) => `${o.name} ${o.sha256}`);
    };
    const whole = await finalObjects(runs.whole.runId);
    assert.ok(
      whole.some((o) => o.startsWith('weights/model.safetensors ')),
      whole.join('\n'),
    );
    assert.ok(
      whole.some((o) => o.startsWith('optimizer/')),
      whole.join('\n'),
    );
    assert.deepEqual(await finalObjects(runs.killed.runId), whole);
    console.log(
      JSON.stringify({
        rankKill: {
          steps: STEPS,
          killedStep: KILLED_STEP,
          failedAttempts: lost.map((a) => a.outcome),
          seconds,
        },
        totalSeconds: (Date.now() - started) / 1000,
      }),
    );
  },
);
