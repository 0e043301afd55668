/**
 * The trainer's own task queue. Every trainer worker also polls a queue only it polls; rlTraining asks on
 * the shared trainer queue which one it got (`trainerQueue`, answered by whichever trainer takes the task)
 * and sends the run's updatePolicy and checkpoint there, so they land where the newest state is already in
 * memory. A step that lands elsewhere is still right: updatePolicy reloads the state from the store.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** The activity rlTraining calls on the shared trainer queue; it answers with the worker's own queue. */
export type TrainerQueueActivity = () => Promise<string>;

/** Random hex digits that keep two workers of one process (tests run several) apart. */
const UNIQUE_SUFFIX_BYTES = 4;

/** `<shared>-<hostname>-<pid>-<random>`: who polls it is readable in the Web UI. */
export function uniqueTrainerQueue(shared: string): string {
  const host = hostname().replace(/[^A-Za-z0-9.-]+/g, '_');
  return `${shared}-${host}-${process.pid}-${randomBytes(UNIQUE_SUFFIX_BYTES).toString('hex')}`;
}

/** The `trainerQueue` activity of a worker that polls `ownQueue`. */
export function trainerQueueActivity(ownQueue: string): TrainerQueueActivity {
  return async () => ownQueue;
}
