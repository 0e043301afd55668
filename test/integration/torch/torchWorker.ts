/**
 * The torch trainer's Temporal worker as the tests run it: `torchrun --nproc-per-node 2 -m
 * reasonloop_torch.worker` (two gloo ranks) from the venv, against the test's Temporal server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { INSTALL_HINT, ROOT, torchEnv, torchVenvBin } from './venv.ts';

/** Starts the worker; resolves once rank 0 says which queues it polls. */
export async function startTorchWorker(
  trainerQueue: string,
  temporal: { temporalAddress: string; namespace: string },
): Promise<ChildProcess> {
  const child = spawn(
    join(torchVenvBin(), 'torchrun'),
    ['--nproc-per-node', '2', '-m', 'reasonloop_torch.worker', '--task-queue', trainerQueue],
    {
      cwd: ROOT,
      env: torchEnv({ TEMPORAL_ADDRESS: temporal.temporalAddress, TEMPORAL_NAMESPACE: temporal.namespace }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let text = '';
  child.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes(`polls ${trainerQueue}-torch`)) resolve();
    });
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
