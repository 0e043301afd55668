import { z } from 'zod';
import { CPU_NODE_POLICIES, DEVICE_KINDS } from '../graph/device.ts';
import type { Device, DeviceKind } from '../graph/device.ts';
import { formatConfigIssues } from './rl.ts';

/**
 * The device sections of the worker and run configs (docs/gpu.md). A worker says what it runs on
 * (`device`); the run says which kind of worker each activity needs, which picks the task queue:
 * a cuda worker polls `<queue>-gpu`, so CPU and GPU workers share one Temporal namespace without taking
 * each other's work.
 */

/** Appended to a task queue's name for the workers that run it on a GPU (`reasonloop-rollout-gpu`). */
export const GPU_QUEUE_SUFFIX = '-gpu';

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}` });
const nonNegativeInt = () =>
  z
    .number({ error: 'must be an integer ≥ 0' })
    .int({ error: 'must be an integer ≥ 0' })
    .min(0, { error: 'must be an integer ≥ 0' });

/** A worker's `device` section. */
export const deviceConfigSchema = z.strictObject({
  /** "cpu" (default) or "cuda": onnxruntime-node's CPU provider, or its CUDA provider. */
  kind: oneOf(DEVICE_KINDS).default('cpu'),
  /** CUDA device ordinal, as nvidia-smi numbers the GPUs visible to the worker (CUDA_VISIBLE_DEVICES applies). */
  index: nonNegativeInt().default(0),
  /**
   * Nodes ORT does not place on the GPU: "allow" (default) or "forbid" (fail at session creation). ORT puts
   * shape computations (Shape → Gather → Concat on int64) on the CPU on purpose, and every graph of ours
   * has some: measured on an H100, "forbid" refused the forward and the train-step graphs.
   */
  cpuNodes: oneOf(CPU_NODE_POLICIES).default('allow'),
  /** TF32 float32 products on the GPU (faster, ≈1e-3 relative error); off: results match the CPU's to ≈1e-5. */
  tf32: z.boolean({ error: 'must be true or false' }).default(false),
});

/** The run's `devices` section: which kind of worker runs each GPU-capable activity. */
export const runDevicesSchema = z.strictObject({
  /** sampleRollouts (and evaluation generation). */
  rollout: oneOf(DEVICE_KINDS).default('cpu'),
  /** updatePolicy and checkpoint (the trainer keeps weights in memory between the two). */
  trainer: oneOf(DEVICE_KINDS).default('cpu'),
});

export type DeviceConfig = z.output<typeof deviceConfigSchema>;
export type RunDevices = z.output<typeof runDevicesSchema>;

/** The task queue a worker of `kind` polls for activities of `queue`; the run uses it to address them. */
export function deviceTaskQueue(queue: string, kind: DeviceKind): string {
  if (kind === 'cpu') return queue;
  return queue.endsWith(GPU_QUEUE_SUFFIX) ? queue : `${queue}${GPU_QUEUE_SUFFIX}`;
}

export function toDevice(config: DeviceConfig): Device {
  return { kind: config.kind, index: config.index, cpuNodes: config.cpuNodes, tf32: config.tf32 };
}

/** Parses a worker's device section; throws one line per problem (`worker.device.index must be …`). */
export function parseDeviceConfig(input: unknown, where = 'device'): DeviceConfig {
  const result = deviceConfigSchema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return result.data;
  throw new Error(`invalid ${where}:\n  ${formatConfigIssues(result.error.issues, where).join('\n  ')}`);
}
