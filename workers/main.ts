/**
 * Worker entry: `node --import tsx workers/main.ts [--roles workflow,rollout,cpu,trainer] [--device cuda:0]`
 * (default: all roles on the CPU, the dev worker). Connects with the `temporal` CLI's TEMPORAL_* variables;
 * task queue names can be set with REASONLOOP_QUEUE_<ROLE> (they must match run.orchestration.taskQueues);
 * a trainer also polls a queue of its own, named in the start-up line. `--device cuda[:N]` (or
 * REASONLOOP_DEVICE) runs the rollout and trainer roles on a GPU and has them poll the `…-gpu` queues;
 * the device is checked before connecting, and an unusable one ends the process with what is missing.
 * SIGINT/SIGTERM shut down gracefully: running activities finish (or fail over by heartbeat timeout)
 * before the process exits.
 */
import { parseArgs } from 'node:util';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { temporalTargetFromEnv } from '../client/connection.ts';
import { uniqueTrainerQueue } from '../activities/trainerQueue.ts';
import { parseDeviceFlags } from '../core/config/device.ts';
import { checkDevice, formatDevice, type Device } from '../core/graph/device.ts';
import { createWorkers, DEVICE_ROLES, queueOf, ROLES, type Role } from './workers.ts';

export function parseRoles(text: string | undefined): Role[] {
  if (!text) return [...ROLES];
  const roles = text.split(',').map((r) => r.trim());
  for (const r of roles) {
    if (!(ROLES as readonly string[]).includes(r)) {
      throw new Error(`--roles: unknown role ${JSON.stringify(r)} (one of ${ROLES.join(', ')})`);
    }
  }
  return roles as Role[];
}

/** A GPU only matters to the rollout and trainer roles; asking for one without them is a mistake. */
export function checkDeviceRoles(device: Device, roles: readonly Role[]): void {
  if (device.kind !== 'cpu' && !roles.some((r) => DEVICE_ROLES.includes(r))) {
    throw new Error(
      `--device ${formatDevice(device)}: none of the roles ${roles.join(', ')} runs on a device ` +
        `(only ${DEVICE_ROLES.join(' and ')} do)`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      roles: { type: 'string' },
      device: { type: 'string' },
      tf32: { type: 'boolean' },
      'cpu-nodes': { type: 'string' },
    },
  });
  const roles = parseRoles(values.roles);
  const device = parseDeviceFlags({
    device: values.device ?? process.env.REASONLOOP_DEVICE,
    tf32: values.tf32,
    cpuNodes: values['cpu-nodes'],
  });
  checkDeviceRoles(device, roles);
  const queues: Partial<Record<Role, string>> = {};
  for (const role of roles) {
    const q = process.env[`REASONLOOP_QUEUE_${role.toUpperCase()}`];
    if (q) queues[role] = q;
  }
  const polled = roles.map((role) => queueOf(role, queues, device));
  // Before connecting: a worker whose GPU is not usable must never take a task.
  await checkDevice(device);

  const target = temporalTargetFromEnv();
  const { address, tls, apiKey } = target.connectionOptions;
  const connection = await NativeConnection.connect({
    address,
    tls: tls as NativeConnectionOptions['tls'],
    ...(typeof apiKey === 'string' ? { apiKey } : {}),
  });
  const trainerOwnQueue = roles.includes('trainer')
    ? uniqueTrainerQueue(queueOf('trainer', queues, device))
    : undefined;
  const workers = await createWorkers({
    connection,
    namespace: target.namespace,
    roles,
    queues,
    device,
    ...(trainerOwnQueue ? { trainerOwnQueue } : {}),
  });
  console.error(
    `reasonloop worker: ${roles.join(', ')} on ${target.address} (namespace ${target.namespace}), ` +
      `device ${formatDevice(device)}; task queues ${polled.join(', ')}` +
      (trainerOwnQueue ? `; trainer's own queue ${trainerOwnQueue}` : ''),
  );
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await connection.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    console.error((error as Error).message);
    process.exit(1);
  });
}
