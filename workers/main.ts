/**
 * Worker entry: `node --import tsx workers/main.ts [--roles workflow,rollout,cpu,trainer]` (default: all,
 * the dev worker). Connects with the `temporal` CLI's TEMPORAL_* variables; task queue names can be set
 * with REASONLOOP_QUEUE_<ROLE> (they must match run.orchestration.taskQueues); a trainer also polls a queue
 * of its own, named in the start-up line. SIGINT/SIGTERM shut down
 * gracefully: running activities finish (or fail over by heartbeat timeout) before the process exits.
 */
import { parseArgs } from 'node:util';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { temporalTargetFromEnv } from '../infra/temporalEnv.ts';
import { uniqueTrainerQueue } from '../activities/trainerQueue.ts';
import { createWorkers, queueOf, ROLES, type Role } from './workers.ts';

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

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { roles: { type: 'string' } } });
  const roles = parseRoles(values.roles);
  const target = temporalTargetFromEnv();
  const { address, tls, apiKey } = target.connectionOptions;
  const connection = await NativeConnection.connect({
    address,
    tls: tls as NativeConnectionOptions['tls'],
    ...(typeof apiKey === 'string' ? { apiKey } : {}),
  });
  const queues: Partial<Record<Role, string>> = {};
  for (const role of roles) {
    const q = process.env[`REASONLOOP_QUEUE_${role.toUpperCase()}`];
    if (q) queues[role] = q;
  }
  const trainerOwnQueue = roles.includes('trainer')
    ? uniqueTrainerQueue(queueOf('trainer', queues))
    : undefined;
  const workers = await createWorkers({
    connection,
    namespace: target.namespace,
    roles,
    queues,
    ...(trainerOwnQueue ? { trainerOwnQueue } : {}),
  });
  console.error(
    `reasonloop worker: ${roles.join(', ')} on ${target.address} (namespace ${target.namespace})` +
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
