/**
 * Routes a run's updatePolicy and checkpoint to one trainer worker while it lives, so the state it keeps in
 * memory is used instead of reloaded. The run asks on the shared trainer queue which worker it gets
 * (`trainerQueue`, answered with that worker's own queue) and sends its trainer activities there with a
 * schedule-to-start timeout; when nobody picks one up in time the worker is gone, and the run asks again.
 * Correctness does not depend on it: a trainer without the state reloads it from the store.
 *
 * With the torch engine (`torchQueue`), the lookup and updatePolicy go to the PyTorch trainers' queue and
 * their own queues instead; checkpoint, which only the TypeScript trainers serve, goes to the shared
 * TypeScript trainer queue: it reads the store, not the trainer's memory, so any of them will do.
 */
import { ActivityFailure, ApplicationFailure, proxyActivities, TimeoutFailure } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import type { TrainerQueueActivity } from '../activities/trainerQueue.ts';
import { MODEL_PASS_TIMEOUT, ONE_ATTEMPT, RETRY, STORE_WORK_TIMEOUT } from './activityOptions.ts';
import type { TrainingStatus } from './definitions.ts';

type TrainerActivities = Pick<typeof activities, 'updatePolicy' | 'checkpoint' | 'trainStep'>;

/**
 * Own queues tried in a row for one call before it goes to the shared queue, where any trainer serves it
 * with the usual retry policy: a worker answers `trainerQueue` from its shared poller, so one whose own
 * poller is broken, or that fails every attempt, would otherwise be picked again and again.
 */
export const MAX_OWN_QUEUE_TRIES = 3;

/**
 * True when a call on a trainer's own queue should go to another trainer: it timed out (nobody picked it
 * up — the worker is gone —, its heartbeats stopped — the worker died inside it —, or it ran past
 * start-to-close) or failed in a way a retry may fix. A non-retryable failure fails the run.
 */
export function tryAnotherTrainer(error: unknown): boolean {
  if (!(error instanceof ActivityFailure)) return false;
  const cause = error.cause;
  return cause instanceof TimeoutFailure || (cause instanceof ApplicationFailure && !cause.nonRetryable);
}

export interface StickyTrainerOptions {
  sharedQueue: string;
  /**
   * run.orchestration.heartbeatTimeoutSeconds: a trainer that stopped heartbeating, or has not picked up a
   * task on its own queue, for this long is presumed gone; the lookup gets as long to answer.
   */
  heartbeatSeconds: number;
  /**
   * The torch trainers' shared queue (`<sharedQueue>-torch`) when the run's engine is "torch": updatePolicy
   * sticks to a torch worker found there; checkpoint goes to sharedQueue. Absent: both stick to a
   * TypeScript trainer of sharedQueue.
   */
  torchQueue?: string;
}

/** Timeouts of updatePolicy and trainStep (model passes) and checkpoint (store work), on any queue. */
function timeoutsOf(activity: keyof TrainerActivities, heartbeatSeconds: number) {
  return {
    startToCloseTimeout: activity === 'checkpoint' ? STORE_WORK_TIMEOUT : MODEL_PASS_TIMEOUT,
    heartbeatTimeout: `${heartbeatSeconds} seconds`,
  };
}

/**
 * updatePolicy and checkpoint (or trainStep, both and the step's scoring in one), routed to the worker whose own queue is `status.trainerQueue` (picked on
 * the first call, and again whenever that worker is gone).
 *
 * One attempt per own queue: a trainer killed inside an update costs one heartbeat timeout, then a new
 * lookup sends the update to a live trainer. (With the retry policy there, the server would first retry
 * on the dead worker's queue and wait out its schedule-to-start timeout too: two timeouts.)
 */
export function stickyTrainer(status: TrainingStatus, options: StickyTrainerOptions): TrainerActivities {
  const { heartbeatSeconds, torchQueue } = options;
  // Where updatePolicy's trainer is found: the queue whose workers answer `trainerQueue` with their own.
  const policyQueue = torchQueue ?? options.sharedQueue;
  const { trainerQueue } = proxyActivities<{ trainerQueue: TrainerQueueActivity }>({
    taskQueue: policyQueue,
    // It answers at once; a worker that took it and died is noticed within the heartbeat timeout.
    startToCloseTimeout: `${heartbeatSeconds} seconds`,
    retry: RETRY,
  });
  const shared: TrainerActivities = {
    updatePolicy: proxyActivities<TrainerActivities>({
      ...timeoutsOf('updatePolicy', heartbeatSeconds),
      taskQueue: policyQueue,
      retry: RETRY,
    }).updatePolicy,
    checkpoint: proxyActivities<TrainerActivities>({
      ...timeoutsOf('checkpoint', heartbeatSeconds),
      taskQueue: options.sharedQueue,
      retry: RETRY,
    }).checkpoint,
    trainStep: proxyActivities<TrainerActivities>({
      ...timeoutsOf('trainStep', heartbeatSeconds),
      taskQueue: options.sharedQueue,
      retry: RETRY,
    }).trainStep,
  };
  const own = new Map<string, TrainerActivities>();
  const on = (queue: string): TrainerActivities => {
    let proxies = own.get(queue);
    if (!proxies) {
      const onQueue = (activity: keyof TrainerActivities) =>
        proxyActivities<TrainerActivities>({
          ...timeoutsOf(activity, heartbeatSeconds),
          taskQueue: queue,
          scheduleToStartTimeout: `${heartbeatSeconds} seconds`,
          retry: ONE_ATTEMPT,
        });
      proxies = {
        updatePolicy: onQueue('updatePolicy').updatePolicy,
        checkpoint: onQueue('checkpoint').checkpoint,
        trainStep: onQueue('trainStep').trainStep,
      };
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
        if (!tryAnotherTrainer(error)) throw error;
        status.trainerQueue = undefined;
      }
    }
    return call(shared);
  }

  return {
    updatePolicy: (input) => onTrainer((a) => a.updatePolicy(input)),
    checkpoint: (input) => (torchQueue ? shared.checkpoint(input) : onTrainer((a) => a.checkpoint(input))),
    // orchestration.fusedStep, which the config allows with the TypeScript trainer only (no torchQueue).
    trainStep: (input) => onTrainer((a) => a.trainStep(input)),
  };
}
