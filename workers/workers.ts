/**
 * Worker roles, one per task queue: `workflow` (the workflows, prepareRun and prepareSft on the workflow
 * queue), `rollout` (sampleRollouts, evaluateModel, filterShard), `cpu` (scoreRollouts and the difficulty
 * filter's plan and write steps), `trainer` (referenceLogProbs, updatePolicy, checkpoint, trainStep — a
 * step after sampling in one activity, orchestration.fusedStep —, sftSteps, trainerQueue). A trainer also polls a queue of its own (activities/trainerQueue.ts),
 * where rlTraining sends the updates of the runs whose state it holds. A dev worker runs all four in one
 * process; production runs each role where its hardware is. A worker's `device` applies to its rollout and
 * trainer roles: on cuda they poll the `…-gpu` queues (docs/gpu.md); workflow and cpu roles stay on the CPU.
 */
import { fileURLToPath } from 'node:url';
import {
  NativeConnection,
  Worker,
  type ActivityInterceptorsFactory,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import {
  checkpoint,
  evaluateModel,
  filterShard,
  planDifficultyFilter,
  prepareRun,
  prepareSft,
  referenceLogProbs,
  sampleRollouts,
  scoreRollouts,
  sftSteps,
  trainerQueueActivity,
  trainStep,
  uniqueTrainerQueue,
  updatePolicy,
  writeDifficultyFilter,
} from '../activities/index.ts';
import { DEFAULT_TASK_QUEUES } from '../core/config/run.ts';
import { deviceTaskQueue, isGpuQueue } from '../core/config/taskQueues.ts';
import { CPU_DEVICE, type Device } from '../core/graph/device.ts';
import { onDevice } from '../activities/workerDevice.ts';
import { DEFAULT_WORKFLOW_QUEUE } from '../client/workflowTypes.ts';
import { keepAlive } from './keepAlive.ts';

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
  /** The trainer's own task queue; default: a fresh `uniqueTrainerQueue` of the trainer queue. */
  trainerOwnQueue?: string;
  /** Where the rollout and trainer roles run their sessions (default cpu); cuda polls the `…-gpu` queues. */
  device?: Device;
  /** More activity interceptors, inside the keep-alive one (the fault tests hold an activity with one). */
  activityInterceptors?: ActivityInterceptorsFactory[];
}

/** The roles whose activities build ORT sessions of the model, and so run on the worker's device. */
export const DEVICE_ROLES: readonly Role[] = ['rollout', 'trainer'];

const ACTIVITIES: Record<
  Exclude<Role, 'workflow'>,
  Record<string, (...args: never[]) => Promise<unknown>>
> = {
  rollout: { sampleRollouts, evaluateModel, filterShard },
  cpu: { scoreRollouts, planDifficultyFilter, writeDifficultyFilter },
  trainer: { referenceLogProbs, updatePolicy, checkpoint, trainStep, sftSteps },
};

/**
 * The queue a role polls: its configured name, with `-gpu` for a device role on cuda. A GPU queue named for
 * a role that runs on the CPU is refused: that worker would take GPU tasks and run them on the CPU.
 */
export function queueOf(
  role: Role,
  queues: Partial<Record<Role, string>> = {},
  device: Device = CPU_DEVICE,
): string {
  const named = queues[role] ?? (role === 'workflow' ? DEFAULT_WORKFLOW_QUEUE : DEFAULT_TASK_QUEUES[role]);
  const roleDevice = DEVICE_ROLES.includes(role) ? device : CPU_DEVICE;
  if (roleDevice.kind === 'cpu' && isGpuQueue(named)) {
    const why = DEVICE_ROLES.includes(role) ? `a ${role} worker on cpu` : `the ${role} role runs on the cpu`;
    throw new Error(
      `task queue ${named} of the ${role} role is a GPU queue, but ${why}: ` +
        `name the base queue and start the worker with --device cuda (it adds the -gpu itself)`,
    );
  }
  return deviceTaskQueue(named, roleDevice.kind);
}

/** What the trainer's own queue serves: the activities rlTraining sends where its state is warm. */
const OWN_QUEUE_ACTIVITIES = { updatePolicy, checkpoint, trainStep };

/**
 * Creates one Temporal worker per role, and for a trainer a second one on its own queue; run them with
 * `Promise.all(workers.map((w) => w.run()))`.
 */
export async function createWorkers(options: WorkerOptions): Promise<Worker[]> {
  const roles = options.roles ?? ROLES;
  const device = options.device ?? CPU_DEVICE;
  const common = {
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    // Every activity with a heartbeat timeout heartbeats while it runs (workers/keepAlive.ts).
    interceptors: { activity: [keepAlive, ...(options.activityInterceptors ?? [])] },
  };
  const ownQueue = roles.includes('trainer')
    ? (options.trainerOwnQueue ?? uniqueTrainerQueue(queueOf('trainer', options.queues, device)))
    : undefined;
  const trainerOwn = ownQueue
    ? [
        Worker.create({
          ...common,
          taskQueue: ownQueue,
          activities: onDevice(device, OWN_QUEUE_ACTIVITIES),
          // One update at a time, as on the shared queue (updatePolicy also serialises within the process).
          maxConcurrentActivityTaskExecutions: 1,
        }),
      ]
    : [];
  const perRole = Promise.all(
    roles.map((role) => {
      const taskQueue = queueOf(role, options.queues, device);
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
        activities:
          role === 'trainer'
            ? { ...onDevice(device, ACTIVITIES.trainer), trainerQueue: trainerQueueActivity(ownQueue!) }
            : role === 'rollout'
              ? onDevice(device, ACTIVITIES.rollout)
              : ACTIVITIES[role],
        // The trainer holds one run's state; a second concurrent update would race for it.
        maxConcurrentActivityTaskExecutions:
          role === 'trainer' ? 1 : role === 'rollout' ? (options.maxConcurrentRollouts ?? 2) : 4,
      });
    }),
  );
  const [own, rest] = await Promise.all([Promise.all(trainerOwn), perRole]);
  return [...rest, ...own];
}
