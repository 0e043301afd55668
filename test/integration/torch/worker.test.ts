/**
 * The torch trainer's Temporal worker (`torchrun --nproc-per-node 2 -m reasonloop_torch.worker`, two gloo
 * ranks) against the real dev server and versitygw S3, next to the ONNX trainer's activities:
 * - run A trains steps 1 and 2 on the torch worker (step 1 reloads the step-0 checkpoint prepareRun wrote:
 *   ONNX → torch; step 2 uses the state it kept in memory), run B the same two steps, same rows, on the ONNX
 *   trainer; their metrics agree within 1e-4 and their files have the same names;
 * - the TypeScript `checkpoint` activity commits the torch worker's objects: the manifest verifies (every
 *   sha256) and the TypeScript reader loads the torch-written weights and AdamW state, within float32
 *   rounding of run B's;
 * - run A's step 3 on the ONNX trainer reloads the torch checkpoint (torch → ONNX) and trains on it.
 * The same again for a LoRA run (adapters on a frozen base read from model.dir, and again from another
 * run's checkpoint, model.checkpoint): the checkpoints hold
 * `adapter/` (PEFT files and the base reference) and the adapters' moments, and each engine resumes the other's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { prepareRun } from '../../../activities/prepareRun.ts';
import { checkpoint } from '../../../activities/checkpoint.ts';
import { dropWarmTrainerState, updatePolicy } from '../../../activities/updatePolicy.ts';
import { readCheckpointState } from '../../../activities/trainerState.ts';
import { initialModel, loraBaseModel, rolloutKey } from '../../../activities/runtime.ts';
import type { RawRunConfig, UpdatePolicyInput, UpdatePolicyOutput } from '../../../activities/types.ts';
import { openStore, verifyCheckpoint } from '../../../core/store/index.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';
import { writeModelDir } from '../../../core/model/modelDir.ts';
import { parseRunConfig } from '../../../core/config/run.ts';
import { startHarness, tinyRunConfig, uniqueQueues, type Harness } from '../orchestration/harness.ts';
import { startTorchWorker, stopTorchWorker } from './torchWorker.ts';

const METRIC_TOLERANCE = 1e-4;
let h: Harness;
let torch: ChildProcess | undefined;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await stopTorchWorker(torch);
  await h?.stop();
});

/** 16 rows (8 prompts × 2) of the tiny run's vocabulary, different per step; log-probs near a uniform policy. */
function rows(step: number): RolloutRow[] {
  let s = 100 + step;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: 16 }, (_, i) => {
    const n = 2 + (i % 3);
    const adv = i % 2 === 0 ? 1 - r() : -r();
    return {
      promptIds: [1 + (i % 8), 2 + ((i * 3) % 9), 10],
      responseIds: Array.from({ length: n }, () => Math.floor(r() * 12)),
      oldLogprobs: Array.from({ length: n }, () => Math.fround(Math.log(1 / 12) + (r() - 0.5) * 0.4)),
      sampled: Array.from({ length: n }, (_, k) => !(i % 5 === 0 && k === 1)),
      advantages: Array.from({ length: n }, () => Math.fround(adv)),
    };
  });
}

/**
 * Runs A (torch, then ONNX at step 3) and B (ONNX) of one config; `extra` overrides the tiny run's fields,
 * `setUp` gets the store URL first (to write what the runs' model source names).
 */
async function torchAgainstOnnx(
  label: string,
  extra: Partial<RawRunConfig> = {},
  setUp?: (storeUrl: string) => Promise<void>,
): Promise<void> {
  const queues = uniqueQueues('torch');
  const id = `torch-${label}-${process.pid}-${Date.now().toString(36)}`;
  await setUp?.(`s3://orchestration/${id}`);
  const configOf = (runId: string): RawRunConfig =>
    tinyRunConfig(runId, `s3://orchestration/${id}`, queues, {
      steps: 3,
      algorithm: { miniBatchSize: 8, microBatchSize: 2, optimizer: { lr: 1e-2 }, kl: { placement: 'none' } },
      ...extra,
    });
  const runs = { torch: configOf(`${id}-a`), onnx: configOf(`${id}-b`) };
  const plans = { torch: await prepareRun(runs.torch), onnx: await prepareRun(runs.onnx) };
  const store = openStore(`s3://orchestration/${id}`);
  const inputOf = async (which: 'torch' | 'onnx', step: number): Promise<UpdatePolicyInput> => {
    const scoredKey = rolloutKey(runs[which].runId, step, 'scored.json');
    await store.put(scoredKey, new TextEncoder().encode(JSON.stringify(rows(step))));
    return { config: runs[which], configHash: plans[which].configHash, step, scoredKey };
  };
  const onnxUpdate = async (input: UpdatePolicyInput): Promise<UpdatePolicyOutput> =>
    new MockActivityEnvironment().run(updatePolicy, input);

  torch = await startTorchWorker(queues.trainer, h);
  const bundle = await bundleWorkflowCode({
    workflowsPath: join(import.meta.dirname, 'workflows.ts'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  const worker = await Worker.create({
    connection: h.nativeConnection,
    namespace: h.namespace,
    taskQueue: queues.workflow,
    workflowBundle: { code: bundle.code },
  });
  const running = worker.run();
  const torchUpdate = (input: UpdatePolicyInput): Promise<UpdatePolicyOutput> =>
    h.client.workflow.execute('updatePolicyOn', {
      taskQueue: queues.workflow,
      workflowId: `${id}-update-${input.step}`,
      args: [`${queues.trainer}-torch`, input],
    });

  const commit = (which: 'torch' | 'onnx', step: number, out: UpdatePolicyOutput) =>
    checkpoint({
      config: runs[which],
      step,
      objects: out.objects,
      cursor: plans[which].cursor,
      metrics: out.metrics,
    });

  for (const step of [1, 2]) {
    const a = await torchUpdate(await inputOf('torch', step));
    dropWarmTrainerState();
    const b = await onnxUpdate(await inputOf('onnx', step));
    assert.equal(a.reloaded, step === 1, `torch step ${step}: reloaded`);
    assert.deepEqual(
      a.objects.map((o) => o.name),
      b.objects.map((o) => o.name),
      `step ${step}: the same files`,
    );
    for (const [name, value] of Object.entries(b.metrics)) {
      // The ONNX trainer's process memory and phase seconds (memory/trainer_peak_rss_gb/…,
      // timing/trainer_phase/…): the torch worker reports neither.
      if (name.startsWith('memory/') || name.startsWith('timing/trainer_phase/')) continue;
      const d = Math.abs(a.metrics[name] - value) / Math.max(Math.abs(value), 1e-6);
      assert.ok(d <= METRIC_TOLERANCE, `step ${step} ${name}: torch ${a.metrics[name]}, onnx ${value}`);
    }
    await commit('torch', step, a);
    await commit('onnx', step, b);
  }

  // The TypeScript side verifies and reads the torch checkpoint: within float32 rounding of the ONNX one.
  const verified = await verifyCheckpoint(store, runs.torch.runId, 2);
  assert.ok('manifest' in verified, `torch checkpoint 2: ${'problem' in verified ? verified.problem : ''}`);
  const onnxVerified = await verifyCheckpoint(store, runs.onnx.runId, 2);
  assert.ok('manifest' in onnxVerified);
  const names = (m: typeof verified) => ('manifest' in m ? m.manifest.objects.map((o) => o.name) : []);
  assert.deepEqual(names(verified), names(onnxVerified), 'the same checkpoint files');
  // A LoRA checkpoint is read against the run's base model and adapter spec.
  const parsed = parseRunConfig(runs.torch);
  const spec = parsed.algorithm.lora;
  const lora = spec ? { base: await loraBaseModel(parsed), spec } : undefined;
  const mine = await readCheckpointState(store, verified.manifest, lora);
  const theirs = await readCheckpointState(store, onnxVerified.manifest, lora);
  assert.equal(mine.state.step, theirs.state.step);
  let worst = 0;
  for (const [name, t] of Object.entries(theirs.state.params)) {
    const m = mine.state.params[name].data;
    for (let k = 0; k < t.data.length; k++)
      worst = Math.max(worst, Math.abs(Number(m[k]) - Number(t.data[k])));
  }
  assert.ok(worst < 1e-4, `weights after 2 steps: largest difference ${worst}`);

  // torch → ONNX: the ONNX trainer resumes run A from the torch worker's checkpoint.
  dropWarmTrainerState();
  const c = await onnxUpdate(await inputOf('torch', 3));
  assert.equal(c.reloaded, true);
  assert.ok(Number.isFinite(c.metrics.loss));
  console.log(JSON.stringify({ label, weightMaxAbsDiffAfter2Steps: worst }));
  worker.shutdown();
  await running;
  await stopTorchWorker(torch);
}

test('the torch worker serves updatePolicy: same metrics as the ONNX trainer, checkpoints each engine resumes', async () => {
  await torchAgainstOnnx('full');
});

const LORA_ALGORITHM = {
  miniBatchSize: 8,
  microBatchSize: 2,
  optimizer: { lr: 1e-2 },
  kl: { placement: 'none' as const },
  lora: { rank: 4, alpha: 8, targetModules: ['q_proj' as const, 'v_proj' as const, 'down_proj' as const] },
};

test('LoRA on the torch worker: the adapters train as on the ONNX trainer, in the same checkpoint files', async () => {
  // The frozen base from a model directory on the workers' disk (the torch trainer does not rebuild model.init).
  const tiny = parseRunConfig(tinyRunConfig('lora-base', 's3://orchestration/unused', uniqueQueues('torch')));
  const dir = join(mkdtempSync(join(tmpdir(), 'reasonloop-torch-lora-')), 'base');
  writeModelDir(dir, await initialModel(tiny));
  await torchAgainstOnnx('lora', { model: { dir }, algorithm: LORA_ALGORITHM });
});

test("LoRA on the torch worker with its base from another run's checkpoint (model.checkpoint)", async () => {
  await torchAgainstOnnx(
    'lora-checkpoint',
    { model: { checkpoint: { runId: 'lora-base', step: 0 } }, algorithm: LORA_ALGORITHM },
    // The base: a full-parameter run's step-0 checkpoint (whole weights) in the same store.
    async (url) => void (await prepareRun(tinyRunConfig('lora-base', url, uniqueQueues('torch')))),
  );
});
