/**
 * The trainer's own queue, with two trainer worker processes polling the shared trainer queue: every
 * updatePolicy of a run goes to one of them while it lives (it reloads the state only for the first step);
 * after that process is shut down (SIGTERM) the run notices nobody picks up its own queue, moves to the
 * other, which reloads once from the store, and ends with the same weights sha256 as an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { listCheckpointSteps, openStore } from '../../../core/store/index.ts';
import { statusQuery, type TrainingResult, type TrainingStatus } from '../../../workflows/definitions.ts';
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
const STEPS = 6;
/** The trainer process is shut down once this step is checkpointed. */
const SHUTDOWN_AFTER = 3;
/** Also how long the run waits on a gone trainer's own queue (run.orchestration.heartbeatTimeoutSeconds). */
const HEARTBEAT_SECONDS = 5;
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

interface TrainerProcess {
  child: ChildProcess;
  ownQueue: string;
}

/** `workers/main.ts --roles trainer` in its own process; its start-up line names its own queue. */
async function spawnTrainer(sharedQueue: string): Promise<TrainerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', '--roles', 'trainer'], {
    cwd: REPO,
    env: { ...process.env, TEMPORAL_ADDRESS: h.temporalAddress, REASONLOOP_QUEUE_TRAINER: sharedQueue },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const ownQueue = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = /trainer's own queue (\S+)\n/.exec(text);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`trainer worker exited (${code}): ${text}`)));
  });
  return { child, ownQueue };
}

async function stopped(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** Each completed activity of `name`, in order: the queue it was scheduled on, who ran it, its result. */
function completedActivities(
  events: HistoryEvent[],
  name: string,
): { queue: string; identity: string; result: Record<string, unknown> }[] {
  const scheduled = new Map<string, string>();
  const started = new Map<string, string>();
  const done: { queue: string; identity: string; result: Record<string, unknown> }[] = [];
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s?.activityType?.name === name) scheduled.set(String(e.eventId), s.taskQueue!.name!);
    const st = e.activityTaskStartedEventAttributes;
    if (st) started.set(String(st.scheduledEventId), st.identity!);
    const c = e.activityTaskCompletedEventAttributes;
    const queue = c && scheduled.get(String(c.scheduledEventId));
    if (c && queue) {
      const data = c.result!.payloads![0].data!;
      done.push({
        queue,
        identity: started.get(String(c.scheduledEventId))!,
        result: JSON.parse(Buffer.from(data).toString('utf8')),
      });
    }
  }
  return done;
}

describe('sticky trainer queue', () => {
  it(
    "a run's updates stay on one trainer process while it lives, then move to the other; same weights",
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('sticky');
      const orchestration = {
        heartbeatTimeoutSeconds: HEARTBEAT_SECONDS,
        taskQueues: { rollout: queues.rollout, cpu: queues.cpu, trainer: queues.trainer },
      };
      const all = await runWorkers(h, queues);
      let straight: TrainingResult;
      try {
        const id = `straight-${Date.now().toString(36)}`;
        straight = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: id,
          args: [tinyRunConfig(id, tempStoreDir(), queues, { steps: STEPS, orchestration })],
        });
      } finally {
        await all.stop();
      }

      const others = await runWorkers(h, queues, ['workflow', 'rollout', 'cpu']);
      const trainers = [await spawnTrainer(queues.trainer), await spawnTrainer(queues.trainer)];
      try {
        const runId = `sticky-${Date.now().toString(36)}`;
        const storeUrl = tempStoreDir();
        const handle = await h.client.workflow.start('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runId,
          args: [tinyRunConfig(runId, storeUrl, queues, { steps: STEPS, orchestration })],
        });
        const store = openStore(storeUrl);
        const deadline = Date.now() + 60_000;
        while (!(await listCheckpointSteps(store, runId)).withManifest.includes(SHUTDOWN_AFTER)) {
          assert.ok(Date.now() < deadline, `step ${SHUTDOWN_AFTER} was not checkpointed within 60 s`);
          await new Promise((r) => setTimeout(r, 20));
        }
        const status: TrainingStatus = await handle.query(statusQuery);
        const first = trainers.find((t) => t.ownQueue === status.trainerQueue);
        assert.ok(first, `the run's trainer queue ${status.trainerQueue} is one of the two processes'`);
        const second = trainers.find((t) => t !== first)!;
        await stopped(first.child, 'SIGTERM');

        const result: TrainingResult = await handle.result();
        assert.equal(result.step, STEPS);
        assert.equal(result.weightsSha256, straight!.weightsSha256);

        const events = (await handle.fetchHistory()).events ?? [];
        const updates = completedActivities(events, 'updatePolicy');
        assert.equal(updates.length, STEPS);
        const onFirst = updates.filter((u) => u.queue === first.ownQueue);
        const onSecond = updates.filter((u) => u.queue === second.ownQueue);
        assert.ok(onFirst.length >= SHUTDOWN_AFTER, `${onFirst.length} updates on the first trainer`);
        assert.equal(
          onFirst.length + onSecond.length,
          STEPS,
          'every update went to a trainer of its own queue',
        );
        assert.deepEqual(
          updates.map((u) => u.queue),
          [...onFirst, ...onSecond].map((u) => u.queue),
          'all of the first trainer, then all of the second',
        );
        assert.equal(new Set(onFirst.map((u) => u.identity)).size, 1);
        assert.equal(new Set(onSecond.map((u) => u.identity)).size, 1);
        assert.notEqual(onFirst[0].identity, onSecond[0]?.identity);
        // Warm state: a reload only where a trainer first saw the run.
        assert.deepEqual(
          updates.map((u) => u.result.reloaded),
          updates.map((_, i) => i === 0 || i === onFirst.length),
        );
        const gone = events.filter(
          (e) => e.activityTaskTimedOutEventAttributes?.failure?.timeoutFailureInfo?.timeoutType != null,
        );
        assert.ok(gone.length >= 1, 'an activity waited in vain on the stopped trainer queue');
      } finally {
        for (const t of trainers) await stopped(t.child, 'SIGKILL');
        await others.stop();
      }
    },
  );
});
