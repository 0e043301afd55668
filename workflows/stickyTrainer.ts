/**
 * Routes a run's updatePolicy and checkpoint to one trainer worker while it lives, so the state it keeps in
 * memory is used instead of reloaded. The run asks on the shared trainer queue which worker it gets
 * (`trainerQueue`, answered with that worker's own queue) and sends its trainer activities there with a
 * schedule-to-start timeout; when nobody picks one up in time the worker is gone, and the run asks again.
 * Correctness does not depend on it: a trainer without the state reloads it from the store.
 */
import { ActivityFailure, proxyActivities, TimeoutFailure } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import type { TrainerQueueActivity } from '../activities/trainerQueue.ts';
import type { TrainingStatus } from './definitions.ts';

type TrainerActivities = Pick<typeof activities, 'updatePolicy' | 'checkpoint'>;
type ActivityTimeouts = Parameters<typeof proxyActivities>[0];

/**
 * Own queues tried in a row for one call before it goes to the shared queue, where any trainer serves it:
 * a worker answers `trainerQueue` from its shared poller, so one whose own poller is broken would
 * otherwise be picked again and again.
 */
export const MAX_OWN_QUEUE_TRIES = 3;

/** True when an activity was never picked up: its schedule-to-start timeout fired. */
export function neverStarted(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof TimeoutFailure &&
    error.cause.timeoutType === 'SCHEDULE_TO_START'
  );
}

export interface StickyTrainerOptions {
  sharedQueue: string;
  /**
   * A trainer that has not picked up a task on its own queue for this long is presumed gone — the same
   * patience as for one that stopped heartbeating (run.orchestration.heartbeatTimeoutSeconds).
   */
  presumedGoneSeconds: number;
  /** startToCloseTimeout, heartbeatTimeout and retry of updatePolicy and checkpoint. */
  timeouts: Omit<ActivityTimeouts, 'taskQueue' | 'scheduleToStartTimeout'>;
}

/**
 * updatePolicy and checkpoint, routed to the worker whose own queue is `status.trainerQueue` (picked on
 * the first call, and again whenever that worker is gone).
 */
export function stickyTrainer(status: TrainingStatus, options: StickyTrainerOptions): TrainerActivities {
  const { trainerQueue } = proxyActivities<{ trainerQueue: TrainerQueueActivity }>({
    taskQueue: options.sharedQueue,
    startToCloseTimeout: '1 minute',
    ...(options.timeouts.retry ? { retry: options.timeouts.retry } : {}),
  });
  const shared = proxyActivities<TrainerActivities>({ ...options.timeouts, taskQueue: options.sharedQueue });
  const own = new Map<string, TrainerActivities>();
  const on = (queue: string): TrainerActivities => {
    let proxies = own.get(queue);
    if (!proxies) {
      proxies = proxyActivities<TrainerActivities>({
        ...options.timeouts,
        taskQueue: queue,
        scheduleToStartTimeout: `${options.presumedGoneSeconds} seconds`,
      });
      own.set(queue, proxies);
    }
    return proxies;
  };

  async function onTrainer<T>(call: (a: TrainerActivities) => Promise<T>): Promise<T> {
    for (let tries = 0; tries < MAX_OWN_QUEUE_TRIES; tries++) {
      status.trainerQueue ??= await trainerQueue();
      try {
        return await call(on(status.trainerQueue));
      } catch (error) {
        if (!neverStarted(error)) throw error;
        status.trainerQueue = undefined;
      }
    }
    return call(shared);
  }

  return {
    updatePolicy: (input) => onTrainer((a) => a.updatePolicy(input)),
    checkpoint: (input) => onTrainer((a) => a.checkpoint(input)),
  };
}
