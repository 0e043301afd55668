/**
 * The task queues workers poll, and which device kind polls which. Dependency-free, because workflows
 * import it and Temporal's workflow bundle may not pull in Node modules.
 */
import type { DeviceKind } from '../graph/deviceKind.ts';

/** The default task queues (configs may rename them). */
export const DEFAULT_TASK_QUEUES = {
  rollout: 'reasonloop-rollout',
  cpu: 'reasonloop-cpu',
  trainer: 'reasonloop-trainer',
} as const;

/**
 * Appended to a task queue's name for the workers that run it on a GPU (`reasonloop-rollout-gpu`): CPU and
 * GPU workers share one Temporal namespace without taking each other's tasks.
 */
export const GPU_QUEUE_SUFFIX = '-gpu';

/**
 * Appended to the run's trainer queue for the PyTorch trainer workers (trainers/torch, `reasonloop-trainer-torch`):
 * only they poll it, so a run with orchestration.trainer.engine "torch" sends its updatePolicy there.
 */
export const TORCH_QUEUE_SUFFIX = '-torch';

/** The queue the torch trainer workers of `trainerQueue` poll. */
export function torchTrainerQueue(trainerQueue: string): string {
  return `${trainerQueue}${TORCH_QUEUE_SUFFIX}`;
}

/** Whether a queue is one only GPU workers poll. */
export function isGpuQueue(queue: string): boolean {
  return queue.endsWith(GPU_QUEUE_SUFFIX);
}

/** The task queue a worker of `kind` polls for activities of `queue`; the run uses it to address them. */
export function deviceTaskQueue(queue: string, kind: DeviceKind): string {
  if (kind === 'cpu') return queue;
  return isGpuQueue(queue) ? queue : `${queue}${GPU_QUEUE_SUFFIX}`;
}

/** The queues a run's activities go to: rollout and trainer on their devices' queues, scoring on `cpu`. */
export function routedTaskQueues(
  taskQueues: { rollout: string; cpu: string; trainer: string },
  devices: { rollout: DeviceKind; trainer: DeviceKind },
): { rollout: string; cpu: string; trainer: string } {
  return {
    rollout: deviceTaskQueue(taskQueues.rollout, devices.rollout),
    cpu: taskQueues.cpu,
    trainer: deviceTaskQueue(taskQueues.trainer, devices.trainer),
  };
}
