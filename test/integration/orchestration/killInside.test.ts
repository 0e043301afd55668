/**
 * kill -9 of a worker process inside each activity type — prepareRun, sampleRollouts, referenceLogProbs,
 * scoreRollouts, updatePolicy, checkpoint —, each run compared with a fault-free run of the same seed: the same final
 * weights sha256, every step's activities completed once, and the killed activity running again on
 * another worker within 2× the configured heartbeat timeout.
 *
 * The victim (holdingWorker.ts, its own process) does the activity's work and holds the result, so the kill
 * lands after the activity's side effects and before its completion reaches the server: what a retry must
 * redo on top of. A standby worker of the same role (in this process) is up before the kill, so the
 * measured time is the fault's, not a worker's start-up.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { Role } from '../../../workers/workers.ts';
import type { TrainingResult } from '../../../workflows/definitions.ts';
import {
  runWorkers,
  startHarness,
  tempStoreDir,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from './harness.ts';

/** A hung run fails its test instead of hanging the suite. */
const TEST_TIMEOUT_MS = 300_000;
const STEPS = 2;
/** Small, so the suite waits little; the keep-alive heartbeats every quarter of it. */
const HEARTBEAT_SECONDS = 4;
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** The role whose worker runs each activity (workers/workers.ts). */
const ROLE_OF: Record<string, Role> = {
  prepareRun: 'workflow',
  sampleRollouts: 'rollout',
  referenceLogProbs: 'trainer',
  scoreRollouts: 'cpu',
  updatePolicy: 'trainer',
  checkpoint: 'trainer',
};

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

function config(runId: string, queues: Record<Role, string>) {
  return tinyRunConfig(runId, tempStoreDir(), queues, {
    steps: STEPS,
    orchestration: {
      heartbeatTimeoutSeconds: HEARTBEAT_SECONDS,
      taskQueues: { rollout: queues.rollout, cpu: queues.cpu, trainer: queues.trainer },
    },
  });
}

/** The victim: `roles` in a process of its own that holds its first `activity`; resolves once it polls. */
async function spawnHolding(
  roles: Role[],
  activity: string,
  queues: Record<Role, string>,
): Promise<{ child: ChildProcess; inside: Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/integration/orchestration/holdingWorker.ts',
      JSON.stringify({ roles, activity, queues }),
    ],
    {
      cwd: REPO,
      env: { ...process.env, TEMPORAL_ADDRESS: h.temporalAddress },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let text = '';
  const seen = (line: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => text.includes(line) && resolve();
      child.stderr!.on('data', check);
      child.once('exit', (code, signal) => reject(new Error(`victim exited (${code ?? signal}): ${text}`)));
      check();
    });
  child.stderr!.on('data', (chunk: Buffer) => void (text += chunk.toString()));
  await seen('holding worker ready');
  const inside = seen(`inside ${activity}`);
  inside.catch(() => undefined);
  return { child, inside };
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

function eventMs(e: HistoryEvent): number {
  return Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
}

/** Per activity type: how many were scheduled, and how many completed. */
function activityCounts(events: HistoryEvent[]): Map<string, { scheduled: number; completed: number }> {
  const typeOf = new Map<string, string>();
  const counts = new Map<string, { scheduled: number; completed: number }>();
  const entry = (name: string) =>
    counts.get(name) ?? counts.set(name, { scheduled: 0, completed: 0 }).get(name)!;
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      typeOf.set(String(e.eventId), s.activityType!.name!);
      entry(s.activityType!.name!).scheduled++;
    }
    const c = e.activityTaskCompletedEventAttributes;
    if (c) entry(typeOf.get(String(c.scheduledEventId))!).completed++;
  }
  return counts;
}

/**
 * When `activity` started again after the kill: the first start of that type past `killedAt` — a retry of
 * the held attempt, or (on a trainer's own queue, one attempt) the call sent to another trainer.
 */
function restartedAt(events: HistoryEvent[], activity: string, killedAt: number): number | undefined {
  const typeOf = new Map<string, string>();
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) typeOf.set(String(e.eventId), s.activityType!.name!);
  }
  return events
    .filter((e) => e.activityTaskStartedEventAttributes)
    .filter((e) => typeOf.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId)) === activity)
    .map(eventMs)
    .filter((ms) => ms >= killedAt)
    .sort((a, b) => a - b)[0];
}

const HEARTBEAT = proto.temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT;

/**
 * The held attempt ended by its heartbeat timeout: a timed-out event of that type (a trainer's own queue,
 * one attempt), or a later attempt whose last failure it was (a retried activity).
 */
function heartbeatTimedOut(events: HistoryEvent[]): boolean {
  return events.some(
    (e) =>
      e.activityTaskTimedOutEventAttributes?.failure?.timeoutFailureInfo?.timeoutType === HEARTBEAT ||
      e.activityTaskStartedEventAttributes?.lastFailure?.timeoutFailureInfo?.timeoutType === HEARTBEAT,
  );
}

describe('kill -9 inside each activity type', () => {
  let straight: TrainingResult;

  before(async () => {
    const queues = uniqueQueues('inside-straight');
    const workers = await runWorkers(h, queues);
    try {
      const runId = `inside-straight-${Date.now().toString(36)}`;
      straight = await h.client.workflow.execute('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: runId,
        args: [config(runId, queues)],
      });
    } finally {
      await workers.stop();
    }
  });

  for (const activity of Object.keys(ROLE_OF)) {
    it(
      `inside ${activity}: recovered within 2× the heartbeat timeout, same weights, every step once`,
      {
        timeout: TEST_TIMEOUT_MS,
      },
      async (t) => {
        const role = ROLE_OF[activity];
        const queues = uniqueQueues(`inside-${activity}`);
        const others = await runWorkers(
          h,
          queues,
          (['workflow', 'rollout', 'cpu', 'trainer'] as const).filter((r) => r !== role),
        );
        const victim = await spawnHolding([role], activity, queues);
        let standby: Awaited<ReturnType<typeof runWorkers>> | undefined;
        try {
          const runId = `inside-${activity}-${Date.now().toString(36)}`;
          const handle = await h.client.workflow.start('rlTraining', {
            taskQueue: queues.workflow,
            workflowId: runId,
            args: [config(runId, queues)],
          });
          await victim.inside;
          standby = await runWorkers(h, queues, [role]);
          const killedAt = Date.now();
          await killed(victim.child);
          const result: TrainingResult = await handle.result();
          assert.equal(result.step, STEPS);
          assert.equal(result.weightsSha256, straight.weightsSha256);

          const events = (await handle.fetchHistory()).events ?? [];
          assert.ok(heartbeatTimedOut(events), 'the held attempt ended by its heartbeat timeout');
          const again = restartedAt(events, activity, killedAt);
          assert.ok(again !== undefined, `${activity} started again after the kill`);
          const recoveryMs = again - killedAt;
          t.diagnostic(`${activity} ran again ${recoveryMs} ms after the kill`);
          assert.ok(
            recoveryMs <= 2 * HEARTBEAT_SECONDS * 1000,
            `${activity} ran again ${recoveryMs} ms after the kill (heartbeat timeout ${HEARTBEAT_SECONDS} s)`,
          );
          const counts = activityCounts(events);
          const perStep = {
            prepareRun: 1,
            sampleRollouts: 2 * STEPS,
            referenceLogProbs: STEPS,
            scoreRollouts: STEPS,
            updatePolicy: STEPS,
            checkpoint: STEPS,
          };
          for (const [name, n] of Object.entries(perStep)) {
            assert.equal(counts.get(name)?.completed, n, `${name} completed ${n} times`);
          }
        } finally {
          await killed(victim.child);
          await standby?.stop();
          await others.stop();
        }
      },
    );
  }
});
