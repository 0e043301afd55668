/**
 * The device wiring of workers and configs: the worker's --device flags, the queues each role polls on a
 * device, the device bound to a worker's activities, the configs' `devices` sections and the GPU queues
 * they route to, and a cuda worker that refuses to start on a machine whose GPU is not usable.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  evaluationQueues,
  filterQueues,
  gpuWorkerCommand,
  runQueues,
  sftQueues,
} from '../../../client/gpuWorkers.ts';
import { onDevice, requireDeviceKind, workerDevice } from '../../../activities/workerDevice.ts';
import { periodicEvaluation } from '../../../activities/prepareRun.ts';
import { parseDeviceFlags } from '../../../core/config/device.ts';
import { parseDifficultyFilterConfig } from '../../../core/config/difficultyFilter.ts';
import { parseEvaluationConfig } from '../../../core/config/evaluation.ts';
import { parseRunConfig, RunConfigError } from '../../../core/config/run.ts';
import { parseSftConfig } from '../../../core/config/sft.ts';
import { routedTaskQueues } from '../../../core/config/taskQueues.ts';
import { CPU_DEVICE, type Device } from '../../../core/graph/device.ts';
import { SYNTHETIC_ADDITION, TINY_TEXT_INIT } from '../orchestration/configFixtures.ts';
import { checkDeviceRoles } from '../../../workers/main.ts';
import { queueOf } from '../../../workers/workers.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CUDA: Device = { kind: 'cuda', index: 0, cpuNodes: 'allow', tf32: false };

const TINY_MODEL = {
  init: {
    seed: 0,
    config: {
      vocabSize: 12,
      hiddenSize: 16,
      intermediateSize: 32,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
      eosTokenId: [11],
    },
  },
};

function run(orchestration: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return parseRunConfig({
    runId: 'r1',
    seed: 1,
    steps: 2,
    model: TINY_MODEL,
    rollout: { promptsPerStep: 2, n: 2 },
    algorithm: { miniBatchSize: 4, microBatchSize: 4 },
    store: { url: '/tmp/x' },
    orchestration,
    ...extra,
  });
}

function issuesOf(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof RunConfigError, String(error));
    return error.issues;
  }
  assert.fail('the config was accepted');
}

describe('worker --device flags', () => {
  it('parse cpu, cuda and cuda:N with the device section defaults', () => {
    assert.deepEqual(parseDeviceFlags({}), { ...CPU_DEVICE, cpuNodes: 'allow', tf32: false });
    assert.deepEqual(parseDeviceFlags({ device: 'cuda' }), CUDA);
    assert.deepEqual(parseDeviceFlags({ device: 'cuda:3', tf32: true, cpuNodes: 'forbid' }), {
      kind: 'cuda',
      index: 3,
      cpuNodes: 'forbid',
      tf32: true,
    });
  });

  it('name what is wrong', () => {
    assert.throws(() => parseDeviceFlags({ device: 'gpu' }), /--device: "gpu" is not a device/);
    assert.throws(() => parseDeviceFlags({ device: 'cpu:1' }), /--device: "cpu:1" is not a device/);
    assert.throws(() => parseDeviceFlags({ device: 'cuda:-1' }), /is not a device/);
    assert.throws(() => parseDeviceFlags({ tf32: true }), /apply to --device cuda only/);
    assert.throws(
      () => parseDeviceFlags({ device: 'cuda', cpuNodes: 'never' }),
      /--cpu-nodes: "never" is not one of forbid, allow/,
    );
  });

  it('a GPU needs a role that runs on it', () => {
    checkDeviceRoles(CUDA, ['rollout']);
    checkDeviceRoles(CPU_DEVICE, ['cpu']);
    assert.throws(
      () => checkDeviceRoles(CUDA, ['workflow', 'cpu']),
      /--device cuda:0: none of the roles workflow, cpu runs on a device \(only rollout and trainer do\)/,
    );
  });
});

describe('the queues a worker polls', () => {
  it('rollout and trainer on cuda poll <queue>-gpu; workflow and cpu stay on their queues', () => {
    assert.equal(queueOf('rollout', {}, CUDA), 'reasonloop-rollout-gpu');
    assert.equal(queueOf('trainer', { trainer: 'team-trainer' }, CUDA), 'team-trainer-gpu');
    assert.equal(queueOf('cpu', {}, CUDA), 'reasonloop-cpu');
    assert.equal(queueOf('workflow', {}, CUDA), 'reasonloop');
    assert.equal(queueOf('rollout', {}), 'reasonloop-rollout');
    // Naming the GPU queue itself is accepted on cuda: -gpu is not added twice.
    assert.equal(queueOf('rollout', { rollout: 'x-gpu' }, CUDA), 'x-gpu');
  });

  it('a worker on the CPU refuses a GPU queue: it would run GPU tasks on the CPU', () => {
    assert.throws(
      () => queueOf('rollout', { rollout: 'x-gpu' }),
      /task queue x-gpu of the rollout role is a GPU queue, but a rollout worker on cpu/,
    );
    assert.throws(() => queueOf('cpu', { cpu: 'y-gpu' }, CUDA), /the cpu role runs on the cpu/);
  });
});

describe("activities see their worker's device", () => {
  it('a bound activity runs with the worker device; anything else with cpu', async () => {
    const seen: Device[] = [];
    const acts = onDevice(CUDA, {
      async probe(x: number) {
        await new Promise((r) => setImmediate(r));
        seen.push(workerDevice());
        return x + 1;
      },
    });
    assert.equal(await acts.probe(1), 2);
    assert.deepEqual(seen, [CUDA]);
    assert.deepEqual(workerDevice(), CPU_DEVICE);
  });

  it('a config asking for another kind than the worker has fails, naming the field', async () => {
    const check = onDevice(CUDA, {
      async check(kind: 'cpu' | 'cuda') {
        return requireDeviceKind(kind, 'run.orchestration.devices.rollout');
      },
    });
    assert.deepEqual(await check.check('cuda'), CUDA);
    await assert.rejects(
      check.check('cpu'),
      /run\.orchestration\.devices\.rollout is "cpu", but this worker runs on cuda:0: start CPU workers/,
    );
    assert.throws(
      () => requireDeviceKind('cuda', 'evaluation.orchestration.device'),
      /evaluation\.orchestration\.device is "cuda", but this worker runs on cpu: start GPU workers with --device cuda/,
    );
  });
});

describe('configs route GPU-capable activities by their devices section', () => {
  it('a run defaults to cpu everywhere and routes cuda roles to -gpu queues; scoring stays on cpu', () => {
    assert.deepEqual(run().orchestration.devices, { rollout: 'cpu', trainer: 'cpu' });
    const c = run({ devices: { rollout: 'cuda', trainer: 'cuda' } });
    assert.deepEqual(routedTaskQueues(c.orchestration.taskQueues, c.orchestration.devices), {
      rollout: 'reasonloop-rollout-gpu',
      cpu: 'reasonloop-cpu',
      trainer: 'reasonloop-trainer-gpu',
    });
    assert.deepEqual(runQueues(c), [
      { field: 'run.orchestration.devices.rollout', role: 'rollout', queue: 'reasonloop-rollout-gpu' },
      { field: 'run.orchestration.devices.trainer', role: 'trainer', queue: 'reasonloop-trainer-gpu' },
    ]);
    assert.deepEqual(
      runQueues(run()).map((r) => r.queue),
      ['reasonloop-rollout', 'reasonloop-trainer'],
    );
  });

  it("a run's periodic evaluation generates where its rollouts do", () => {
    const c = run({ devices: { rollout: 'cuda' } }, { evaluation: { every: 1 } });
    const e = periodicEvaluation(c)!;
    assert.equal(e.config.orchestration?.taskQueue, 'reasonloop-rollout');
    assert.equal(e.config.orchestration?.device, 'cuda');
    const parsed = parseEvaluationConfig({ ...e.config, model: { checkpoint: { runId: 'r1' } } });
    assert.deepEqual(evaluationQueues(parsed)[0].queue, 'reasonloop-rollout-gpu');
  });

  it('a config may not name a -gpu queue itself, and devices take only cpu or cuda', () => {
    assert.deepEqual(
      issuesOf(() => run({ taskQueues: { rollout: 'mine-gpu' }, devices: { trainer: 'tpu' } })),
      [
        'run.orchestration.taskQueues.rollout must not end in "-gpu": GPU workers\' queues are chosen with the devices section (got "mine-gpu")',
        'run.orchestration.devices.trainer must be one of "cpu", "cuda" (got "tpu")',
      ],
    );
  });

  it('sft, evaluation and difficulty-filter configs have the same switch', () => {
    const sft = parseSftConfig({
      runId: 's1',
      seed: 1,
      steps: 1,
      model: { init: TINY_TEXT_INIT },
      task: SYNTHETIC_ADDITION,
      store: { url: '/tmp/x' },
      orchestration: { devices: { trainer: 'cuda' } },
    });
    assert.equal(sftQueues(sft)[0].queue, 'reasonloop-trainer-gpu');
    const evaluation = parseEvaluationConfig({
      evalId: 'e1',
      model: { checkpoint: { runId: 'r1' } },
      task: { kind: 'reverseDigits', digits: 2 },
      store: { url: '/tmp/x' },
      orchestration: { taskQueue: 'evals', device: 'cuda' },
    });
    assert.equal(evaluationQueues(evaluation)[0].queue, 'evals-gpu');
    const filter = parseDifficultyFilterConfig({
      filterId: 'f1',
      model: { checkpoint: { runId: 'r1' } },
      task: SYNTHETIC_ADDITION,
      store: { url: '/tmp/x' },
      orchestration: { devices: { rollout: 'cuda' } },
    });
    assert.deepEqual(filterQueues(filter), [
      { field: 'filter.orchestration.devices.rollout', role: 'rollout', queue: 'reasonloop-rollout-gpu' },
    ]);
  });

  it('the missing-worker hint is the command that starts one', () => {
    assert.equal(
      gpuWorkerCommand({ field: 'f', role: 'rollout', queue: 'reasonloop-rollout-gpu' }),
      'node --import tsx workers/main.ts --roles rollout --device cuda',
    );
    assert.equal(
      gpuWorkerCommand({ field: 'f', role: 'trainer', queue: 'team-trainer-gpu' }),
      'REASONLOOP_QUEUE_TRAINER=team-trainer node --import tsx workers/main.ts --roles trainer --device cuda',
    );
  });
});

describe('workers/main.ts --device cuda', () => {
  it('exits with what is missing before it connects anywhere', async () => {
    // cuda:99: no machine has that GPU, so this holds on GPU machines too. Port 1 on loopback refuses
    // connections: a worker that connected before checking would fail with a connection error instead.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'workers/main.ts', '--roles', 'rollout,trainer', '--device', 'cuda:99'],
      {
        cwd: REPO,
        env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /^device cuda:99 is not usable \(no fall back to cpu\):\n {2}- /);
    assert.doesNotMatch(stderr, /127\.0\.0\.1:1|connect/i);
  });
});
