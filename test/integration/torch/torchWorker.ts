/**
 * The torch trainer's Temporal worker as the tests run it: `torchrun --standalone --nproc-per-node 2 -m
 * reasonloop_torch.worker` (two gloo ranks; the rendezvous on a free port, so parallel runs do not meet on
 * torchrun's default one) from the venv, against the test's Temporal server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { join } from 'node:path';
import { INSTALL_HINT, ROOT, torchEnv, torchVenvBin } from './venv.ts';

export interface TorchWorkerOptions {
  /** torchrun --max-restarts: how many times torchrun starts all ranks again after one fails (default 0). */
  maxRestarts?: number;
  /** Called with everything the ranks and torchrun print, as it comes. */
  onOutput?: (text: string) => void;
}

/** Starts the worker; resolves once rank 0 says which queues it polls. */
export async function startTorchWorker(
  trainerQueue: string,
  temporal: { temporalAddress: string; namespace: string },
  options: TorchWorkerOptions = {},
): Promise<ChildProcess> {
  const child = spawn(
    join(torchVenvBin(), 'torchrun'),
    [
      '--standalone',
      '--nproc-per-node',
      '2',
      '--max-restarts',
      String(options.maxRestarts ?? 0),
      '-m',
      'reasonloop_torch.worker',
      '--task-queue',
      trainerQueue,
    ],
    {
      cwd: ROOT,
      env: torchEnv({ TEMPORAL_ADDRESS: temporal.temporalAddress, TEMPORAL_NAMESPACE: temporal.namespace }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let text = '';
  const take = (c: Buffer) => {
    text += c.toString();
    options.onOutput?.(c.toString());
  };
  child.stderr!.on('data', take);
  child.stdout!.on('data', take);
  await new Promise<void>((resolve, reject) => {
    const polls = () => {
      if (text.includes(`polls ${trainerQueue}-torch`)) resolve();
    };
    child.stdout!.on('data', polls);
    child.stderr!.on('data', polls);
    child.once('exit', (code) =>
      reject(new Error(`torch worker exited (${code}; ${INSTALL_HINT}):\n${text}`)),
    );
  });
  return child;
}

/** Stops a worker startTorchWorker started (SIGTERM to torchrun, which stops its ranks) and waits for it. */
export async function stopTorchWorker(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** [activity type, task queue] of every activity a workflow scheduled, in order, from its history. */
export async function scheduledActivities(client: Client, workflowId: string): Promise<[string, string][]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    return a ? [[a.activityType!.name!, a.taskQueue!.name!] as [string, string]] : [];
  });
}
