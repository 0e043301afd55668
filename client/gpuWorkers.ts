/**
 * Preflight for configs that send activities to GPU workers: each `…-gpu` queue a config routes to must
 * have a worker polling it. A GPU worker polls only after its device check passed (workers/main.ts), so a
 * poller means a usable GPU; none means the run would wait for one (Temporal never reroutes to the CPU).
 * The CLI checks before it starts anything; the prepare activities check again (activities/gpuWorkers.ts).
 */
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { DifficultyFilterConfig } from '../core/config/difficultyFilter.ts';
import type { EvaluationConfig } from '../core/config/evaluation.ts';
import type { RunConfig } from '../core/config/run.ts';
import type { SftConfig } from '../core/config/sft.ts';
import {
  DEFAULT_TASK_QUEUES,
  deviceTaskQueue,
  GPU_QUEUE_SUFFIX,
  isGpuQueue,
} from '../core/config/taskQueues.ts';
import type { DeviceKind } from '../core/graph/deviceKind.ts';

/** A CommonJS module whose namespaces Node's ESM loader cannot name, so they are read off the default export. */
const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

/** A queue a config routes activities of a worker role to, and the config field that chose its device. */
export interface RoutedQueue {
  field: string;
  role: 'rollout' | 'trainer';
  queue: string;
}

function routeOf(field: string, role: RoutedQueue['role'], queue: string, kind: DeviceKind): RoutedQueue {
  return { field, role, queue: deviceTaskQueue(queue, kind) };
}

export function runQueues(c: RunConfig): RoutedQueue[] {
  const { taskQueues, devices } = c.orchestration;
  return [
    routeOf('run.orchestration.devices.rollout', 'rollout', taskQueues.rollout, devices.rollout),
    routeOf('run.orchestration.devices.trainer', 'trainer', taskQueues.trainer, devices.trainer),
  ];
}

export function sftQueues(c: SftConfig): RoutedQueue[] {
  const { taskQueues, devices } = c.orchestration;
  return [routeOf('sft.orchestration.devices.trainer', 'trainer', taskQueues.trainer, devices.trainer)];
}

export function evaluationQueues(c: EvaluationConfig): RoutedQueue[] {
  const o = c.orchestration;
  return [routeOf('evaluation.orchestration.device', 'rollout', o.taskQueue, o.device)];
}

export function filterQueues(c: DifficultyFilterConfig): RoutedQueue[] {
  const { taskQueues, devices } = c.orchestration;
  return [routeOf('filter.orchestration.devices.rollout', 'rollout', taskQueues.rollout, devices.rollout)];
}

/** The command that starts a GPU worker for a queue (it adds `-gpu` to the base name itself). */
export function gpuWorkerCommand({ role, queue }: RoutedQueue): string {
  const base = queue.slice(0, -GPU_QUEUE_SUFFIX.length);
  const env = base === DEFAULT_TASK_QUEUES[role] ? '' : `REASONLOOP_QUEUE_${role.toUpperCase()}=${base} `;
  return `${env}node --import tsx workers/main.ts --roles ${role} --device cuda`;
}

/** Whether the server lists a worker polling `queue` for activities. */
export async function hasActivityPoller(client: Client, queue: string): Promise<boolean> {
  const described = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: queue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (described.pollers ?? []).length > 0;
}

/** The GPU queues among `routed` that no worker polls, one line each naming the field and the fix. */
export async function gpuQueuesWithoutWorkers(
  client: Client,
  routed: readonly RoutedQueue[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const route of routed) {
    const { field, queue } = route;
    if (!isGpuQueue(queue)) continue;
    if (!(await hasActivityPoller(client, queue))) {
      problems.push(
        `${field} is "cuda", but no worker polls task queue ${queue} (start one: ${gpuWorkerCommand(route)})`,
      );
    }
  }
  return problems;
}

export class NoGpuWorkerError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`no GPU worker for this config (nothing falls back to cpu):\n  - ${problems.join('\n  - ')}`);
    this.name = 'NoGpuWorkerError';
  }
}

/** Throws NoGpuWorkerError when a GPU queue of `routed` has no worker. */
export async function checkGpuWorkers(client: Client, routed: readonly RoutedQueue[]): Promise<void> {
  const problems = await gpuQueuesWithoutWorkers(client, routed);
  if (problems.length > 0) throw new NoGpuWorkerError(problems);
}
