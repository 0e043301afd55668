/** device → onnxruntime-node session options, the device config schema, and task-queue naming. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyTf32Setting,
  CPU_DEVICE,
  deviceKey,
  executionProviders,
  formatDevice,
  withDevice,
} from '../../../core/graph/device.ts';
import { Executable, Graph } from '../../../core/graph/index.ts';
import {
  deviceConfigSchema,
  deviceTaskQueue,
  parseDeviceConfig,
  runDevicesSchema,
  toDevice,
} from '../../../core/config/device.ts';

const BASE = {
  intraOpNumThreads: 1,
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};

test('cpu maps to the CPU provider and leaves the other options alone', () => {
  assert.deepEqual(executionProviders(CPU_DEVICE), ['cpu']);
  assert.deepEqual(withDevice(BASE, CPU_DEVICE), { ...BASE, executionProviders: ['cpu'] });
  assert.equal(formatDevice(CPU_DEVICE), 'cpu');
});

test('cuda maps to the CUDA provider with its device id; cpuNodes "forbid" disables the CPU fallback', () => {
  const device = { kind: 'cuda', index: 3, cpuNodes: 'forbid' } as const;
  assert.deepEqual(executionProviders(device), [{ name: 'cuda', deviceId: 3 }]);
  assert.deepEqual(withDevice(BASE, device), {
    intraOpNumThreads: 1,
    executionProviders: [{ name: 'cuda', deviceId: 3 }],
    extra: { session: { intra_op: { allow_spinning: '0' }, disable_cpu_ep_fallback: '1' } },
  });
  assert.equal(formatDevice(device), 'cuda:3');
});

test('cuda allows CPU nodes by default: no disable_cpu_ep_fallback', () => {
  const options = withDevice(BASE, { kind: 'cuda', index: 0 });
  assert.deepEqual(options.extra, BASE.extra);
  assert.deepEqual(options.executionProviders, [{ name: 'cuda', deviceId: 0 }]);
});

test('device keys differ wherever the session options differ', () => {
  const keys = [
    deviceKey(CPU_DEVICE),
    deviceKey({ kind: 'cuda', index: 0 }),
    deviceKey({ kind: 'cuda', index: 1 }),
    deviceKey({ kind: 'cuda', index: 0, cpuNodes: 'forbid' }),
    deviceKey({ kind: 'cuda', index: 0, tf32: true }),
  ];
  assert.equal(new Set(keys).size, keys.length);
  assert.equal(
    deviceKey({ kind: 'cuda', index: 0 }),
    deviceKey({ kind: 'cuda', index: 0, cpuNodes: 'allow', tf32: false }),
  );
});

test('an Executable compiled with device cpu runs on the CPU provider as before', async () => {
  const g = new Graph('device_cpu');
  const x = g.input('x', 'float32', [3]);
  g.output(g.node('Mul', [x, x])[0], 'y');
  const exec = await Executable.compile(g, { device: CPU_DEVICE });
  const { y } = await exec.run({ x: { data: new Float32Array([1, 2, 3]), dims: [3] } });
  assert.deepEqual([...y.data], [1, 4, 9]);
  await exec.release();
});

test('the device config fills defaults and names what is wrong', () => {
  assert.deepEqual(deviceConfigSchema.parse({}), { kind: 'cpu', index: 0, cpuNodes: 'allow', tf32: false });
  assert.deepEqual(toDevice(parseDeviceConfig({ kind: 'cuda', index: 1 })), {
    kind: 'cuda',
    index: 1,
    cpuNodes: 'allow',
    tf32: false,
  });
  assert.throws(
    () => parseDeviceConfig({ kind: 'gpu', index: -1 }, 'worker.device'),
    (e: Error) =>
      e.message.includes('worker.device.kind must be one of "cpu", "cuda" (got "gpu")') &&
      e.message.includes('worker.device.index must be an integer ≥ 0 (got -1)'),
  );
  assert.throws(() => parseDeviceConfig({ kind: 'cuda', gpu: 0 }), /device has unknown key "gpu"/);
  assert.deepEqual(runDevicesSchema.parse({ rollout: 'cuda' }), { rollout: 'cuda', trainer: 'cpu' });
});

test('TF32 is switched off for cuda unless asked for, and a value the user set is kept', () => {
  const env: NodeJS.ProcessEnv = {};
  applyTf32Setting(CPU_DEVICE, env);
  assert.equal(env.NVIDIA_TF32_OVERRIDE, undefined);
  applyTf32Setting({ kind: 'cuda', index: 0, tf32: true }, env);
  assert.equal(env.NVIDIA_TF32_OVERRIDE, undefined);
  applyTf32Setting({ kind: 'cuda', index: 0 }, env);
  assert.equal(env.NVIDIA_TF32_OVERRIDE, '0');
  const mine: NodeJS.ProcessEnv = { NVIDIA_TF32_OVERRIDE: '1' };
  applyTf32Setting({ kind: 'cuda', index: 0 }, mine);
  assert.equal(mine.NVIDIA_TF32_OVERRIDE, '1');
});

test('a cuda worker polls <queue>-gpu; a cpu worker polls the queue itself', () => {
  assert.equal(deviceTaskQueue('reasonloop-rollout', 'cuda'), 'reasonloop-rollout-gpu');
  assert.equal(deviceTaskQueue('reasonloop-rollout-gpu', 'cuda'), 'reasonloop-rollout-gpu');
  assert.equal(deviceTaskQueue('reasonloop-trainer', 'cpu'), 'reasonloop-trainer');
});
