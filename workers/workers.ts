/**
 * Worker roles, one per task queue: `workflow` (the workflows, prepareRun and prepareSft on the workflow
 * queue), `rollout` (sampleRollouts, evaluateModel), `cpu` (scoreRollouts), `trainer` (updatePolicy,
 * checkpoint, sftSteps). A dev worker runs all four
 * in one process; production runs each role where its hardware is.
 */
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import {
  checkpoint,
  evaluateModel,
  prepareRun,
  prepareSft,
  sampleRollouts,
  scoreRollouts,
  sftSteps,
  updatePolicy,
} from '../activities/index.ts';
import { DEFAULT_TASK_QUEUES } from '../core/config/run.ts';
import { DEFAULT_WORKFLOW_QUEUE } from '../workflows/client.ts';

export const ROLES = ['workflow', 'rollout', 'cpu', 'trainer'] as const;
export type Role = (typeof ROLES)[number];

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  roles?: readonly Role[];
  queues?: Partial<Record<Role, string>>;
  /** A pre-built bundle (tests build it once); otherwise the workflows are bundled from source. */
  workflowBundle?: WorkflowBundleOption;
  /** Concurrent activities per rollout worker (each holds one generation batch in memory). */
  maxConcurrentRollouts?: number;
}

const ACTIVITIES: Record<
  Exclude<Role, 'workflow'>,
  Record<string, (...args: never[]) => Promise<unknown>>
> = {
  rollout: { sampleRollouts, evaluateModel },
  cpu: { scoreRollouts },
  trainer: { updatePolicy, checkpoint, sftSteps },
};

export function queueOf(role: Role, queues: Partial<Record<Role, string>> = {}): string {
  return queues[role] ?? (role === 'workflow' ? DEFAULT_WORKFLOW_QUEUE : DEFAULT_TASK_QUEUES[role]);
}

/** Creates one Temporal worker per role; run them with `Promise.all(workers.map((w) => w.run()))`. */
export async function createWorkers(options: WorkerOptions): Promise<Worker[]> {
  const roles = options.roles ?? ROLES;
  const common = { connection: options.connection, namespace: options.namespace ?? 'default' };
  return Promise.all(
    roles.map((role) => {
      const taskQueue = queueOf(role, options.queues);
      if (role === 'workflow') {
        return Worker.create({
          ...common,
          taskQueue,
          ...(options.workflowBundle
            ? { workflowBundle: options.workflowBundle }
            : { workflowsPath: WORKFLOWS_PATH }),
          activities: { prepareRun, prepareSft },
        });
      }
      return Worker.create({
        ...common,
        taskQueue,
        activities: ACTIVITIES[role],
        // The trainer holds one run's state; a second concurrent update would race for it.
        maxConcurrentActivityTaskExecutions:
          role === 'trainer' ? 1 : role === 'rollout' ? (options.maxConcurrentRollouts ?? 2) : 4,
      });
    }),
  );
}
