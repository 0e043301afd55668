/**
 * A worker process of the given roles, built as workers/main.ts builds it (createWorkers), whose first
 * execution of one activity type does all of the activity's work, prints `inside <type>` on stderr and
 * then holds the result: the fault tests kill it there with SIGKILL — after the activity's side effects
 * (objects written, a manifest committed), before the server hears it completed. Its keep-alive
 * heartbeats go on while it holds, so only the kill makes the heartbeats stop.
 *
 * Usage: node --import tsx test/integration/orchestration/holdingWorker.ts '{"roles":[…],"activity":"…","queues":{…}}'
 * with TEMPORAL_ADDRESS (and the store's REASONLOOP_S3_* variables) in the environment.
 */
import { NativeConnection } from '@temporalio/worker';
import { createWorkers, type Role } from '../../../workers/workers.ts';

interface HoldingWorkerArgs {
  roles: Role[];
  activity: string;
  queues: Record<Role, string>;
}

const args = JSON.parse(process.argv[2]) as HoldingWorkerArgs;
const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
let held = false;
const workers = await createWorkers({
  roles: args.roles,
  connection,
  namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
  queues: args.queues,
  activityInterceptors: [
    (ctx) => ({
      inbound: {
        async execute(input, next) {
          const result = await next(input);
          if (held || ctx.info.activityType !== args.activity) return result;
          held = true;
          process.stderr.write(`inside ${args.activity}\n`);
          return new Promise(() => {});
        },
      },
    }),
  ],
});
process.stderr.write(`holding worker ready: ${args.roles.join(',')}\n`);
await Promise.all(workers.map((w) => w.run()));
