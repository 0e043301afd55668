import { z } from 'zod';
import { CPU_NODE_POLICIES, DEVICE_KINDS } from '../graph/deviceKind.ts';
import type { Device } from '../graph/device.ts';
import { formatConfigIssues } from './rl.ts';
import { flag, nonNegativeInt, oneOf } from './rules.ts';
import { GPU_QUEUE_SUFFIX, isGpuQueue } from './taskQueues.ts';

export { deviceTaskQueue, GPU_QUEUE_SUFFIX, isGpuQueue } from './taskQueues.ts';

/**
 * The device sections of the worker and run configs (docs/gpu.md). A worker says what it runs on
 * (`device`); the run says which kind of worker each activity needs, which picks the task queue:
 * a cuda worker polls `<queue>-gpu`, so CPU and GPU workers share one Temporal namespace without taking
 * each other's work.
 */

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
  tf32: flag().default(false),
});

/** Which kind of worker runs an activity: "cpu" (default) or "cuda" (a GPU worker, on `<queue>-gpu`). */
export const deviceKindSchema = () => oneOf(DEVICE_KINDS).default('cpu');

/** The run's `devices` section: which kind of worker runs each GPU-capable activity. */
export const runDevicesSchema = z.strictObject({
  /** sampleRollouts (and the run's periodic evaluations). */
  rollout: deviceKindSchema(),
  /** updatePolicy and checkpoint (the trainer keeps weights in memory between the two), and sftSteps. */
  trainer: deviceKindSchema(),
});

/**
 * A task queue a config names. `…-gpu` names are the GPU workers' (derived from the `devices` section), so
 * a config may not name one directly: a CPU-routed activity would land on a GPU queue or the reverse.
 */
export const taskQueueNameSchema = () =>
  z
    .string({ error: 'must be a task queue name' })
    .min(1, { error: 'must be a task queue name' })
    .refine((q) => !isGpuQueue(q), {
      error: `must not end in "${GPU_QUEUE_SUFFIX}": GPU workers' queues are chosen with the devices section`,
    });

export type DeviceConfig = z.output<typeof deviceConfigSchema>;
export type RunDevices = z.output<typeof runDevicesSchema>;

export function toDevice(config: DeviceConfig): Device {
  return { kind: config.kind, index: config.index, cpuNodes: config.cpuNodes, tf32: config.tf32 };
}

/** Parses a worker's device section; throws one line per problem (`worker.device.index must be …`). */
export function parseDeviceConfig(input: unknown, where = 'device'): DeviceConfig {
  const result = deviceConfigSchema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return result.data;
  throw new Error(`invalid ${where}:\n  ${formatConfigIssues(result.error.issues, where).join('\n  ')}`);
}

export interface DeviceFlags {
  device?: string;
  tf32?: boolean;
  cpuNodes?: string;
}

/**
 * A device from the command-line flags `--device cpu|cuda|cuda:N`, `--tf32` and `--cpu-nodes allow|forbid`
 * (the worker's `device` section, docs/gpu.md; `reasonloop generate` takes the same); errors name the flag.
 */
export function parseDeviceFlags(flags: DeviceFlags): Device {
  const text = (flags.device ?? 'cpu').trim();
  const match = /^(cpu|cuda)(?::(\d+))?$/.exec(text);
  if (!match || (match[1] === 'cpu' && match[2] !== undefined)) {
    throw new Error(`--device: ${JSON.stringify(text)} is not a device (cpu, cuda or cuda:<index>)`);
  }
  if (match[1] === 'cpu' && (flags.tf32 || flags.cpuNodes !== undefined)) {
    throw new Error('--tf32 and --cpu-nodes apply to --device cuda only');
  }
  if (flags.cpuNodes !== undefined && !(CPU_NODE_POLICIES as readonly string[]).includes(flags.cpuNodes)) {
    throw new Error(
      `--cpu-nodes: ${JSON.stringify(flags.cpuNodes)} is not one of ${CPU_NODE_POLICIES.join(', ')}`,
    );
  }
  const config = parseDeviceConfig(
    {
      kind: match[1],
      ...(match[2] !== undefined ? { index: Number(match[2]) } : {}),
      ...(flags.tf32 ? { tf32: true } : {}),
      ...(flags.cpuNodes !== undefined ? { cpuNodes: flags.cpuNodes } : {}),
    },
    '--device',
  );
  return toDevice(config);
}
