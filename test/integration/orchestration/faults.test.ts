/**
 * Faults, each compared with an uninterrupted run of the same seed by the sha256 of the final weights:
 * a corrupted checkpoint object is detected and the previous checkpoint used; the trainer worker process
 * is killed with SIGKILL while it runs updatePolicy and a new one reloads the state from the store; two rollout worker
 * processes share the shards, and one of them is killed with SIGKILL mid-run.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  latestVerifiedCheckpoint,
  listCheckpointSteps,
  openStore,
  stepPrefix,
} from '../../../core/store/index.ts';
import type { WorkflowHandle } from '@temporalio/client';
import type { RunConfigInput } from '../../../core/config/run.ts';
import type { TrainingResult } from '../../../workflows/definitions.ts';
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

const STEPS = 4;

/**
 * An activity already running when its workflow is terminated still completes (a checkpoint may land just
 * after): wait this long before reading what the interrupted run left.
 */
const SETTLE_MS = 1500;
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

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

async function untilCheckpoint(storeUrl: string, runId: string, step: number): Promise<void> {
  const store = openStore(storeUrl);
  const deadline = Date.now() + 60_000;
  while (!(await listCheckpointSteps(store, runId)).withManifest.some((s) => s >= step)) {
    assert.ok(Date.now() < deadline, `step ${step} was not checkpointed within 60 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function straightRun(
  queues: ReturnType<typeof uniqueQueues>,
  overrides: Partial<RunConfigInput> = {},
): Promise<TrainingResult> {
  const runId = uniqueRunId('straight');
  return h.client.workflow.execute('rlTraining', {
    taskQueue: queues.workflow,
    workflowId: runId,
    args: [tinyRunConfig(runId, tempStoreDir(), queues, { steps: STEPS, ...overrides })],
  });
}

/**
 * An update long enough to be caught running (≈16 optimizer steps instead of 2): the kill below must land
 * inside updatePolicy, not between activities.
 */
const SLOW_UPDATE: Partial<RunConfigInput> = {
  algorithm: { miniBatchSize: 4, microBatchSize: 4, epochs: 2, optimizer: { lr: 1e-3 } },
};
/** How often the test asks the server for the run's pending activities. */
const POLL_MS = 10;
/** PendingActivityState STARTED (temporal.api.enums.v1): a worker has picked the task up. */
const PENDING_ACTIVITY_STARTED = 2;

/** Waits until the run has `activity` started on a worker and not finished: the moment to kill that worker. */
async function untilRunning(handle: WorkflowHandle, activity: string): Promise<void> {
  for (;;) {
    const { raw } = await handle.describe();
    const running = (raw.pendingActivities ?? []).some(
      (a) => a.activityType?.name === activity && Number(a.state) === PENDING_ACTIVITY_STARTED,
    );
    if (running) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** A worker of one role in its own process, as deployed: `workers/main.ts --roles <role>`. */
async function spawnWorker(role: 'trainer' | 'rollout', queue: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', '--roles', role], {
    cwd: REPO,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: h.temporalAddress,
      [`REASONLOOP_QUEUE_${role.toUpperCase()}`]: queue,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let text = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes(`reasonloop worker: ${role}`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${role} worker exited (${code}): ${text}`)));
  });
  return child;
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('faults', () => {
  it(
    'a checkpoint object with one flipped byte is detected and the previous checkpoint used',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('corrupt');
      const workers = await runWorkers(h, queues);
      try {
        const straight = await straightRun(queues);
        const runId = uniqueRunId('corrupt');
        const storeDir = tempStoreDir();
        const config = tinyRunConfig(runId, storeDir, queues, { steps: STEPS });
        const handle = await h.client.workflow.start('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runId,
          args: [config],
        });
        await untilCheckpoint(storeDir, runId, 3);
        await handle.terminate('test: interrupt before corrupting a checkpoint');
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const newest = (await latestVerifiedCheckpoint(openStore(storeDir), runId)).manifest!.step;
        const file = join(storeDir, ...stepPrefix(runId, newest).split('/'), 'weights', 'model.safetensors');
        const bytes = readFileSync(file);
        bytes[bytes.length - 1] ^= 0x01;
        writeFileSync(file, bytes);

        const resumed: TrainingResult = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runId,
          args: [config],
        });
        assert.equal(resumed.rejectedCheckpoints[0]?.step, newest);
        assert.match(resumed.rejectedCheckpoints[0].reason, /weights\/model\.safetensors has sha256/);
        assert.equal(resumed.step, STEPS);
        assert.equal(resumed.weightsSha256, straight.weightsSha256);
      } finally {
        await workers.stop();
      }
    },
  );

  it(
    'SIGKILL of the trainer worker process inside updatePolicy: a new trainer reloads from the store, same weights',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('killtrainer');
      const all = await runWorkers(h, queues);
      let straight: TrainingResult;
      try {
        straight = await straightRun(queues, SLOW_UPDATE);
      } finally {
        await all.stop();
      }
      const others = await runWorkers(h, queues, ['workflow', 'rollout', 'cpu']);
      let trainer = await spawnWorker('trainer', queues.trainer);
      try {
        const runId = uniqueRunId('killtrainer');
        const storeDir = tempStoreDir();
        const handle = await h.client.workflow.start('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runId,
          args: [
            tinyRunConfig(runId, storeDir, queues, {
              steps: STEPS,
              ...SLOW_UPDATE,
              orchestration: {
                heartbeatTimeoutSeconds: 5,
                taskQueues: { rollout: queues.rollout, cpu: queues.cpu, trainer: queues.trainer },
              },
            }),
          ],
        });
        await untilCheckpoint(storeDir, runId, 1);
        await untilRunning(handle, 'updatePolicy');
        await killed(trainer);
        trainer = await spawnWorker('trainer', queues.trainer);
        const result: TrainingResult = await handle.result();
        assert.equal(result.step, STEPS);
        assert.equal(result.weightsSha256, straight!.weightsSha256);

        // The new trainer had no warm state: its first update reloaded the previous checkpoint.
        const history = await handle.fetchHistory();
        const reloads = (history.events ?? [])
          .map((e) => e.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data)
          .filter((d): d is Uint8Array => d instanceof Uint8Array)
          .map((d) => JSON.parse(Buffer.from(d).toString('utf8')) as { reloaded?: boolean })
          .filter((r) => r.reloaded === true);
        assert.equal(reloads.length, 2, 'step 1 (fresh trainer) and the first step after the kill');
      } finally {
        await killed(trainer);
        await others.stop();
      }
    },
  );

  it(
    'two rollout worker processes share the shards; SIGKILL of one mid-run; same weights as one worker',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('scaleout');
      const shards = { promptsPerStep: 8, n: 4, maxNewTokens: 3, shards: 4 };
      const all = await runWorkers(h, queues);
      let straight: TrainingResult;
      try {
        const id = uniqueRunId('straight4');
        straight = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: id,
          args: [tinyRunConfig(id, tempStoreDir(), queues, { steps: STEPS, rollout: shards })],
        });
      } finally {
        await all.stop();
      }
      const others = await runWorkers(h, queues, ['workflow', 'cpu', 'trainer']);
      const rollouts = [
        await spawnWorker('rollout', queues.rollout),
        await spawnWorker('rollout', queues.rollout),
      ];
      try {
        const runId = uniqueRunId('scaleout');
        const storeDir = tempStoreDir();
        const handle = await h.client.workflow.start('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runId,
          args: [
            tinyRunConfig(runId, storeDir, queues, {
              steps: STEPS,
              rollout: shards,
              orchestration: {
                heartbeatTimeoutSeconds: 5,
                taskQueues: { rollout: queues.rollout, cpu: queues.cpu, trainer: queues.trainer },
              },
            }),
          ],
        });
        await untilCheckpoint(storeDir, runId, 2);
        const history = await handle.fetchHistory();
        await killed(rollouts[0]);
        const result: TrainingResult = await handle.result();
        assert.equal(result.step, STEPS);
        assert.equal(result.weightsSha256, straight!.weightsSha256);

        // Both processes took sampleRollouts tasks before the kill.
        const scheduled = new Map<string, string>();
        for (const e of history.events ?? []) {
          const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
          if (name) scheduled.set(String(e.eventId), name);
        }
        const identities = new Set(
          (history.events ?? [])
            .map((e) => e.activityTaskStartedEventAttributes)
            .filter((a) => a && scheduled.get(String(a.scheduledEventId)) === 'sampleRollouts')
            .map((a) => a!.identity),
        );
        assert.equal(identities.size, 2, `sampleRollouts ran on ${[...identities].join(', ')}`);
      } finally {
        for (const child of rollouts) await killed(child);
        await others.stop();
      }
    },
  );

  it('a worker process shuts down cleanly on SIGTERM', { timeout: TEST_TIMEOUT_MS }, async () => {
    const child = await spawnWorker('rollout', uniqueQueues('sigterm').rollout);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
