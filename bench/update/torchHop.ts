/**
 * `bench:update --engine torch`, the hop half: the bench's 8 × 256-token update through the torch
 * trainer's Temporal worker (`torchrun --nproc-per-node 1 -m reasonloop_torch.worker`, float32) on a stack
 * of its own (Temporal dev server + versitygw S3, infra/sharedStack.ts), from a bench workflow
 * (torchHopWorkflow.ts) that runs `steps` RL steps' updatePolicy one after another. Step 1 reloads the
 * step-0 checkpoint written here (bench-25m's weights, zero moments); later steps use the state the
 * worker kept. From the workflow's history, per activity: the round trip ActivityTaskScheduled → the
 * WorkflowTaskStarted that hands the result to the workflow, and hop = round trip − the activity's own
 * time (the trainer's `seconds`): dispatch to the Python worker, the broadcast to the ranks, the result's
 * way back and the workflow's next turn.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Qwen2Config } from '../../core/model/config.ts';
import { qwen2Parameters } from '../../core/model/parameters.ts';
import { writeSafetensors, type TensorToWrite } from '../../core/model/safetensors.ts';
import {
  openStore,
  writeCheckpoint,
  type CheckpointObjectSource,
  type ObjectStore,
} from '../../core/store/index.ts';
import type { RolloutRow } from '../../core/train/rolloutBatch.ts';
import { SHARED_TEST_BUCKET, stackDown, stackUp } from '../../infra/sharedStack.ts';
import { activityRoundTrips } from './roundTrips.ts';
import type { TorchUpdateInput, TorchUpdateOutput } from './torchHopWorkflow.ts';

const ROOT = resolve(import.meta.dirname, '../..');
/** The workflow worker's queue; the torch worker polls `<TRAINER_QUEUE>-torch`. */
const WORKFLOW_QUEUE = 'bench-update-workflow';
const TRAINER_QUEUE = 'bench-update-trainer';

export interface TorchHop {
  /** Per warm step (2…): round trip − the activity's own time, ms. */
  hopMs: number[];
  /** Per warm step: ActivityTaskScheduled → ActivityTaskStarted (the Python worker's poll), ms. */
  scheduleToStartMs: number[];
  /** Per warm step: the activity's own time as the trainer measures it, ms. */
  workerStepMs: number[];
  /** Step 1's own time: reloading the step-0 checkpoint from S3 plus the update. */
  coldStepMs: number;
}

/** The step-0 checkpoint a run's prepareRun would write for full-parameter training: weights, zero moments. */
async function writeStepZero(
  store: ObjectStore,
  runId: string,
  modelDir: string,
  config: Qwen2Config,
  scratch: string,
): Promise<void> {
  const moments = new Map<string, TensorToWrite>();
  for (const p of qwen2Parameters(config)) {
    const zeros = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
    moments.set(`m.${p.name}`, { shape: p.shape, data: zeros });
    moments.set(`v.${p.name}`, { shape: p.shape, data: zeros });
  }
  const optimizer = join(scratch, 'state.safetensors');
  writeSafetensors(optimizer, moments, { 'reasonloop.optimizer_step': '0' });
  const objects: CheckpointObjectSource[] = [
    ...['config.json', 'generation_config.json', 'model.safetensors'].map((f) => ({
      name: `weights/${f}`,
      file: join(modelDir, f),
    })),
    { name: 'optimizer/state.safetensors', file: optimizer },
  ];
  await writeCheckpoint(store, {
    runId,
    step: 0,
    configHash: 'bench',
    dataCursor: null,
    rng: null,
    metrics: {},
    objects,
  });
}

/** torchrun with one rank, polling the bench's trainer queue; resolves once rank 0 polls. */
async function startWorker(python: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(
    join(python, '..', 'torchrun'),
    ['--standalone', '--nproc-per-node', '1', '-m', 'reasonloop_torch.worker', '--task-queue', TRAINER_QUEUE],
    {
      cwd: ROOT,
      env: { ...process.env, ...env, PYTHONPATH: join(ROOT, 'trainers/torch') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let text = '';
  await new Promise<void>((ok, fail) => {
    const take = (c: Buffer) => {
      text += c.toString();
      if (text.includes(`polls ${TRAINER_QUEUE}-torch`)) ok();
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    child.once('exit', (code) =>
      fail(new Error(`torch worker exited (${code}; bash trainers/torch/install.sh installs it):\n${text}`)),
    );
  });
  return child;
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export async function torchHop(
  python: string,
  stateDir: string,
  modelDir: string,
  config: Qwen2Config,
  algorithm: Record<string, unknown>,
  rows: RolloutRow[],
  steps: number,
): Promise<TorchHop> {
  // The workflow worker's state changes are not the bench's output.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const stack = await stackUp(stateDir, { fresh: true });
  const env = { ...process.env, ...stack.env };
  const scratch = mkdtempSync(join(tmpdir(), 'bench-update-hop-'));
  const runId = `bench-update-${Date.now().toString(36)}`;
  const storeUrl = `s3://${SHARED_TEST_BUCKET}/bench-update`;
  let worker: ChildProcess | undefined;
  try {
    const store = openStore(storeUrl, env);
    await writeStepZero(store, runId, modelDir, config, scratch);
    const scoredKey = `runs/${runId}/rollouts/scored.json`;
    await store.put(scoredKey, new TextEncoder().encode(JSON.stringify(rows)));
    const runConfig = {
      runId,
      seed: 0,
      steps,
      store: { url: storeUrl },
      algorithm,
      rollout: { temperature: 1, maxNewTokens: rows[0]!.responseIds.length },
    };
    const inputs: TorchUpdateInput[] = Array.from({ length: steps }, (_, i) => ({
      config: runConfig,
      configHash: 'bench',
      step: i + 1,
      scoredKey,
    }));
    worker = await startWorker(python, stack.env);
    const native = await NativeConnection.connect({ address: stack.temporal.address });
    const connection = await Connection.connect({ address: stack.temporal.address });
    try {
      const bundle = await bundleWorkflowCode({
        workflowsPath: fileURLToPath(new URL('./torchHopWorkflow.ts', import.meta.url)),
        logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
      });
      const wfWorker = await Worker.create({
        connection: native,
        namespace: stack.env.TEMPORAL_NAMESPACE,
        taskQueue: WORKFLOW_QUEUE,
        workflowBundle: bundle,
      });
      const client = new Client({ connection, namespace: stack.env.TEMPORAL_NAMESPACE });
      const workflowId = `${runId}-updates`;
      const outputs = await wfWorker.runUntil(
        client.workflow.execute('torchUpdates', {
          taskQueue: WORKFLOW_QUEUE,
          workflowId,
          args: [`${TRAINER_QUEUE}-torch`, inputs],
        }) as Promise<TorchUpdateOutput[]>,
      );
      if (!outputs[0]!.reloaded || outputs.slice(1).some((o) => o.reloaded))
        throw new Error(
          'the torch worker reloaded a warm step (or did not reload step 1): not the path measured',
        );
      const trips = activityRoundTrips(await client.workflow.getHandle(workflowId).fetchHistory());
      const warm = trips.slice(1).map((t, i) => ({ t, own: outputs[i + 1]!.seconds * 1000 }));
      return {
        hopMs: warm.map(({ t, own }) => t.seen - t.scheduled - own),
        scheduleToStartMs: warm.map(({ t }) => t.started - t.scheduled),
        workerStepMs: warm.map(({ own }) => own),
        coldStepMs: outputs[0]!.seconds * 1000,
      };
    } finally {
      await connection.close();
      await native.close();
    }
  } finally {
    if (worker) await stopWorker(worker);
    rmSync(scratch, { recursive: true, force: true });
    await stackDown(stateDir);
  }
}
