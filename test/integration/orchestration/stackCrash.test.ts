/**
 * The machine crashes: kill -9 of every process — the Temporal dev server, the S3 server and the worker —
 * in the middle of a run whose store is the stack's own S3 server. Then the README's commands, as a user
 * types them: `infra/cli.ts up --state-dir DIR` (the same exports: the servers restart on their own data)
 * and `workers/main.ts`. The run goes on from its history: no step before the newest checkpoint is trained
 * again, every step is trained once, its metrics are all there, and its final weights equal a fault-free
 * run's. The stack is private to this test (it is killed).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { runMetricsHistory } from '../../../core/metrics/history.ts';
import { listCheckpointSteps, openStore, S3ObjectStore } from '../../../core/store/index.ts';
import type { SharedStackState } from '../../../infra/sharedStack.ts';
import type { TrainingResult } from '../../../workflows/definitions.ts';
import {
  runWorkers,
  startHarness,
  tempStoreDir,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from './harness.ts';

const TEST_TIMEOUT_MS = 400_000;
const STEPS = 4;
/** The crash comes once this step is checkpointed. */
const CRASH_AFTER = 2;
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

let h: Harness;
const stateDir = mkdtempSync(join(tmpdir(), 'reasonloop-machine-crash-'));
const children: ChildProcess[] = [];
before(async () => {
  h = await startHarness();
});
after(async () => {
  for (const child of children) await killed(child);
  spawnSync(process.execPath, ['--import', 'tsx', 'infra/cli.ts', 'down', '--state-dir', stateDir], {
    cwd: REPO,
  });
  rmSync(stateDir, { recursive: true, force: true });
  await h?.stop();
});

/** A README command: `node --import tsx <script> <args>`, with `env` over this process's environment. */
function command(script: string, args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  assert.equal(run.status, 0, `${script} ${args.join(' ')}: ${run.stderr}`);
  return run;
}

/** `eval "$(node --import tsx infra/cli.ts up --state-dir DIR)"`: the exports it prints. */
function stackUp(): { env: Record<string, string>; stdout: string; stderr: string } {
  const run = command('infra/cli.ts', ['up', '--state-dir', stateDir]);
  const env: Record<string, string> = {};
  for (const match of run.stdout.matchAll(/^export (\w+)='((?:[^']|'\\'')*)'$/gm))
    env[match[1]] = match[2].replaceAll(`'\\''`, "'");
  return { env, stdout: run.stdout, stderr: run.stderr };
}

/** `node --import tsx workers/main.ts` (all roles) on the test's queues; resolves once it polls. */
async function startWorker(
  env: Record<string, string>,
  queues: Record<string, string>,
): Promise<ChildProcess> {
  const queueEnv = Object.fromEntries(
    Object.entries(queues).map(([role, queue]) => [`REASONLOOP_QUEUE_${role.toUpperCase()}`, queue]),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: REPO,
    env: { ...process.env, ...env, ...queueEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let text = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('reasonloop worker:')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${text}`)));
  });
  return child;
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

function stackStore(env: Record<string, string>, url: string) {
  return openStore(url, { ...process.env, ...env });
}

describe('machine crash', () => {
  it(
    'kill -9 of both servers and the worker mid-run, then the README commands: the run finishes from its newest checkpoint, nothing lost, same weights',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('crash');
      const orchestration = {
        heartbeatTimeoutSeconds: 4,
        taskQueues: { rollout: queues.rollout, cpu: queues.cpu, trainer: queues.trainer },
      };
      const workers = await runWorkers(h, queues);
      let straight: TrainingResult;
      let straightSteps: number[];
      try {
        const id = `crash-straight-${Date.now().toString(36)}`;
        const dir = tempStoreDir();
        straight = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: id,
          args: [tinyRunConfig(id, dir, queues, { steps: STEPS, orchestration })],
        });
        straightSteps = (await listCheckpointSteps(openStore(dir), id)).withManifest;
      } finally {
        await workers.stop();
      }

      const first = stackUp();
      const runId = `crash-${Date.now().toString(36)}`;
      const storeUrl = `s3://${first.env.REASONLOOP_TEST_S3_BUCKET}/${runId}`;
      const configFile = join(stateDir, 'run.json');
      writeFileSync(
        configFile,
        JSON.stringify(tinyRunConfig(runId, storeUrl, queues, { steps: STEPS, orchestration })),
      );
      let worker = await startWorker(first.env, queues);
      const started = command(
        'cli/reasonloop.ts',
        ['train', '--config', configFile, '--task-queue', queues.workflow],
        first.env,
      );
      assert.match(started.stdout, new RegExp(`starting run ${runId}`));

      const store = stackStore(first.env, storeUrl);
      const deadline = Date.now() + 120_000;
      let before: number[] = [];
      while (!before.includes(CRASH_AFTER)) {
        assert.ok(Date.now() < deadline, `step ${CRASH_AFTER} was not checkpointed within 120 s`);
        await new Promise((r) => setTimeout(r, 20));
        before = (await listCheckpointSteps(store, runId)).withManifest;
      }
      (store as S3ObjectStore).destroy();
      const state = JSON.parse(readFileSync(join(stateDir, 'stack.json'), 'utf8')) as SharedStackState;
      for (const pid of [state.temporal.pid, state.s3.pid]) process.kill(pid, 'SIGKILL');
      await killed(worker);
      const crashedAt = Date.now();
      const newestBefore = Math.max(...before);
      assert.ok(newestBefore < STEPS, `the run had reached step ${newestBefore} of ${STEPS} at the crash`);

      // The README's recovery: the same `up` (it restarts both servers on their own data) and the workers.
      const second = stackUp();
      assert.match(second.stderr, /restarting the stack recorded in .* on its own data/);
      assert.equal(second.stdout, first.stdout, 'same ports and credentials: the exports are unchanged');
      // Starting it again is not needed, and is refused with the reason (before the workers are back: the
      // run is still in flight).
      const again = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'cli/reasonloop.ts',
          'train',
          '--config',
          configFile,
          '--task-queue',
          queues.workflow,
        ],
        { cwd: REPO, encoding: 'utf8', env: { ...process.env, ...second.env } },
      );
      assert.equal(again.status, 1, again.stderr);
      assert.match(
        again.stderr,
        new RegExp(`run ${runId} is already running \\(\`reasonloop status ${runId}\``),
      );
      worker = await startWorker(second.env, queues);

      const connection = await Connection.connect({ address: second.env.TEMPORAL_ADDRESS });
      try {
        const client = new Client({ connection, namespace: second.env.TEMPORAL_NAMESPACE });
        const handle = client.workflow.getHandle(runId);
        const result: TrainingResult = await handle.result();
        assert.equal(result.step, STEPS);
        assert.equal(result.weightsSha256, straight!.weightsSha256);

        // Every step trained once; none of the steps checkpointed before the crash again after it.
        const events = (await handle.fetchHistory()).events ?? [];
        const updates = events
          .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'updatePolicy')
          .map((e) => ({
            at: Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6),
            step: JSON.parse(
              Buffer.from(e.activityTaskScheduledEventAttributes!.input!.payloads![0].data!).toString('utf8'),
            ).step as number,
          }));
        assert.deepEqual(
          [...new Set(updates.map((u) => u.step))],
          Array.from({ length: STEPS }, (_, i) => i + 1),
        );
        const redone = updates.filter((u) => u.at >= crashedAt && u.step <= newestBefore);
        assert.deepEqual(redone, [], 'no step checkpointed before the crash was trained again');
      } finally {
        await connection.close();
      }
      const after = stackStore(second.env, storeUrl);
      try {
        const steps = (await listCheckpointSteps(after, runId)).withManifest;
        // What retention leaves is the fault-free run's: the crash lost no checkpoint.
        assert.deepEqual(steps, straightSteps!, 'the checkpoints of the fault-free run');
        const metrics = await runMetricsHistory(after, runId);
        assert.deepEqual(
          metrics.map((m) => m.step),
          Array.from({ length: STEPS }, (_, i) => i + 1),
          'the metrics of every step',
        );
      } finally {
        (after as S3ObjectStore).destroy();
      }
    },
  );
});
