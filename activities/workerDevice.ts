/**
 * The device a worker runs its GPU-capable activities on (rollout and trainer roles). createWorkers binds
 * each such activity to the worker's device, so two workers of one process (a test, a dev worker) can
 * run on different devices; activities read it when they build sessions. CPU-role activities are never
 * bound and run on the CPU.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { activityInfo } from '@temporalio/activity';
import type { DeviceKind } from '../core/graph/deviceKind.ts';
import { CPU_DEVICE, formatDevice, type Device } from '../core/graph/device.ts';

const scope = new AsyncLocalStorage<Device>();

type Activity = (...args: never[]) => Promise<unknown>;

/** The activities, each running with `device` as its worker device. */
export function onDevice<T extends Record<string, Activity>>(device: Device, activities: T): T {
  const bound: Record<string, Activity> = {};
  for (const [name, fn] of Object.entries(activities)) {
    bound[name] = (...args: never[]) => scope.run(device, () => fn(...args));
  }
  return bound as T;
}

/** The device of the activity running now (cpu outside a bound activity). */
export function workerDevice(): Device {
  return scope.getStore() ?? CPU_DEVICE;
}

/** A task queue name for messages, when called inside an activity. */
function currentQueue(): string {
  try {
    return ` (task queue ${activityInfo().taskQueue})`;
  } catch {
    return '';
  }
}

/**
 * The worker device, checked against the kind the config asked for: a "cuda" activity that reached a CPU
 * worker (or the reverse) fails instead of running on the wrong device. Retryable: the next attempt may
 * reach a correctly configured worker, and the error names the misconfigured one meanwhile.
 */
export function requireDeviceKind(expected: DeviceKind, field: string): Device {
  const device = workerDevice();
  if (device.kind !== expected) {
    throw new Error(
      `${field} is "${expected}", but this worker${currentQueue()} runs on ${formatDevice(device)}: ` +
        `start ${expected === 'cuda' ? 'GPU workers with --device cuda' : 'CPU workers'} for it (docs/gpu.md)`,
    );
  }
  return device;
}
