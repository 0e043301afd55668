/**
 * Preflight for runs with orchestration.trainer.engine "torch": their updatePolicy waits on
 * `<taskQueues.trainer>-torch` until a torch trainer worker (trainers/torch) polls it, and nothing falls
 * back to the ONNX trainer, so `reasonloop train` checks for one before it starts the run and says how to
 * start it.
 */
import type { Client } from '@temporalio/client';
import type { RunConfig } from '../core/config/run.ts';
import { torchTrainerQueue } from '../core/config/taskQueues.ts';
import { hasActivityPoller } from './gpuWorkers.ts';

/** The command that starts a torch trainer worker for a run's trainer queue (docs/torch-trainer.md). */
export function torchWorkerCommand(trainerQueue: string): string {
  return (
    // --max-restarts: a rank that dies mid-update is recovered by starting the ranks again (as the docs say).
    'torchrun --nproc-per-node N --max-restarts 3 -m reasonloop_torch.worker ' +
    `--task-queue ${trainerQueue} (venv: bash trainers/torch/install.sh)`
  );
}

export class NoTorchTrainerError extends Error {
  constructor(readonly problem: string) {
    super(`no torch trainer for this config (nothing falls back to the ONNX trainer):\n  - ${problem}`);
    this.name = 'NoTorchTrainerError';
  }
}

/** Throws NoTorchTrainerError when the run's engine is "torch" and no worker polls the torch trainer queue. */
export async function checkTorchTrainer(client: Client, config: RunConfig): Promise<void> {
  if (config.orchestration.trainer.engine !== 'torch') return;
  const trainer = config.orchestration.taskQueues.trainer;
  const queue = torchTrainerQueue(trainer);
  if (await hasActivityPoller(client, queue)) return;
  throw new NoTorchTrainerError(
    `run.orchestration.trainer.engine is "torch", but no worker polls task queue ${queue} ` +
      `(start one: ${torchWorkerCommand(trainer)})`,
  );
}
