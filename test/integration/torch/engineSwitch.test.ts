/**
 * Engine switch through the workflow's resume path (the same run id started again with `steps` raised, as
 * `reasonloop train` does; prepareRun resumes from the newest verified checkpoint): on the real dev server
 * and versitygw S3 with the TypeScript workers in this process and the torch worker (two gloo ranks)
 * beside them,
 * - run "onnx-torch" trains steps 1–2 with orchestration.trainer.engine "onnx", then resumes for steps 3–4
 *   with "torch"; run "torch-onnx" the reverse; run "onnx" trains 4 steps on the ONNX trainer untouched;
 * - the step-2 checkpoint each run switched at is carried over exactly: the torch trainer's reload (its
 *   own code path: download, sha256 check, FSDP2 shards, AdamW state) and the TypeScript reader the ONNX
 *   trainer reloads with hold the same weights, moments and step count, bit for bit;
 * - both switched runs end within float32 rounding of the untouched run (engine.test.ts's 1e-4 on the
 *   weights and on the step-3 update metrics): a lost or reset AdamW moment would be far outside it.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readCheckpointState } from '../../../activities/trainerState.ts';
import type { RunConfigInput } from '../../../core/config/run.ts';
import { runMetricsHistory } from '../../../core/metrics/history.ts';
import { openStore, verifyCheckpoint, type ObjectStore } from '../../../core/store/index.ts';
import type { TrainingResult } from '../../../workflows/definitions.ts';
import {
  runWorkers,
  startHarness,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from '../orchestration/harness.ts';
import { scheduledActivities, startTorchWorker, stopTorchWorker } from './torchWorker.ts';
import { INSTALL_HINT, ROOT, torchEnv, torchVenvBin } from './venv.ts';

const SWITCH_AT = 2;
const STEPS = 4;
/** engine.test.ts's tolerances: float32 update metrics within 1e-4 relative, weights within 1e-4. */
const METRIC_TOLERANCE = 1e-4;
const WEIGHT_TOLERANCE = 1e-4;
const UPDATE_METRICS = ['loss', 'pgLoss', 'entropy', 'gradNorm', 'approxKl', 'clipFracHigh', 'clipFracLow'];

/**
 * The state the torch trainer reloads a checkpoint into (Trainer._state_at: the update's own reload, one
 * rank), gathered back to full tensors: sha256 of each tensor's float32 bytes, and AdamW's step.
 */
const TORCH_RELOAD = `
import hashlib, json, sys
from reasonloop_torch.run_config import with_defaults
from reasonloop_torch.sharding import init_ranks
from reasonloop_torch.store import open_store
from reasonloop_torch.trainer import Trainer
from reasonloop_torch.trainer_state import gather_state
init_ranks("cpu")
out = []
for config, step in json.loads(sys.argv[1]):
    config = with_defaults(config)
    warm, _ = Trainer(0)._state_at(open_store(config["store"]["url"]), config, "reload", step)
    full = gather_state(warm.model, warm.optimizer)
    digest = lambda t: hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()
    tensors = {f"{kind}.{name}": digest(t) for kind, group in (("w", full.params), ("m", full.m), ("v", full.v))
               for name, t in group.items()}
    out.append({"step": full.step, "tensors": tensors})
print(json.dumps(out))
`;

interface StateDigest {
  step: number;
  tensors: Record<string, string>;
}

function torchReload(checkpoints: [RunConfigInput, number][]): StateDigest[] {
  const r = spawnSync(join(torchVenvBin(), 'python'), ['-c', TORCH_RELOAD, JSON.stringify(checkpoints)], {
    cwd: ROOT,
    env: torchEnv(),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `the torch reload failed (${INSTALL_HINT}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

/** The same digest of the state the TypeScript reader (the ONNX trainer's reload) reads. */
async function typescriptReload(store: ObjectStore, runId: string, step: number): Promise<StateDigest> {
  const v = await verifyCheckpoint(store, runId, step);
  assert.ok('manifest' in v, `${runId} checkpoint ${step}: ${'problem' in v ? v.problem : ''}`);
  const { state } = await readCheckpointState(store, v.manifest);
  const digest = (t: { data: ArrayBufferView }) =>
    createHash('sha256')
      .update(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))
      .digest('hex');
  const tensors: Record<string, string> = {};
  for (const [kind, group] of [
    ['w', state.params],
    ['m', state.m],
    ['v', state.v],
  ] as const) {
    for (const [name, t] of Object.entries(group)) tensors[`${kind}.${name}`] = digest(t);
  }
  return { step: state.step, tensors };
}

let h: Harness;
let torch: ChildProcess | undefined;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await stopTorchWorker(torch);
  await h?.stop();
});

test(
  'a run checkpointed by the ONNX trainer resumes on the torch trainer and the reverse, state carried over bit for bit',
  { timeout: 300_000 },
  async () => {
    const queues = uniqueQueues('switch');
    const id = `switch-${process.pid}-${Date.now().toString(36)}`;
    const storeUrl = `s3://orchestration/${id}`;
    const configOf = (runId: string, engine: 'onnx' | 'torch', steps: number): RunConfigInput => {
      const c = tinyRunConfig(runId, storeUrl, queues, {
        steps,
        algorithm: { miniBatchSize: 16, microBatchSize: 8, optimizer: { lr: 1e-2 } },
      });
      return { ...c, orchestration: { ...c.orchestration, trainer: { engine } } };
    };
    const legs = {
      'onnx-torch': [
        configOf(`${id}-onnx-torch`, 'onnx', SWITCH_AT),
        configOf(`${id}-onnx-torch`, 'torch', STEPS),
      ],
      'torch-onnx': [
        configOf(`${id}-torch-onnx`, 'torch', SWITCH_AT),
        configOf(`${id}-torch-onnx`, 'onnx', STEPS),
      ],
      onnx: [configOf(`${id}-onnx`, 'onnx', STEPS)],
    };
    torch = await startTorchWorker(queues.trainer, h);
    const workers = await runWorkers(h, queues);
    const store = openStore(storeUrl);
    const train = async (config: RunConfigInput) => {
      const result: TrainingResult = await h.client.workflow.execute('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: `${config.runId}-${config.steps}`,
        args: [config],
      });
      assert.equal(result.step, config.steps, `${config.runId} to step ${config.steps}`);
    };
    try {
      const switched = [legs['onnx-torch'][0], legs['torch-onnx'][0]];
      for (const config of switched) await train(config);

      // The checkpoint each run will switch at (read now: retention later prunes its optimizer state):
      // both engines' reloads hold the same bits.
      const torchSide = torchReload(switched.map((c) => [c, SWITCH_AT]));
      for (const [k, config] of switched.entries()) {
        const tsSide = await typescriptReload(store, config.runId, SWITCH_AT);
        assert.equal(tsSide.step, SWITCH_AT * 2, `${config.runId}: AdamW steps (2 mini-batches a step)`);
        assert.equal(torchSide[k].step, tsSide.step, `${config.runId}: AdamW step count`);
        assert.equal(Object.keys(tsSide.tensors).length, Object.keys(torchSide[k].tensors).length);
        assert.deepEqual(torchSide[k].tensors, tsSide.tensors, `${config.runId}: weights and moments`);
      }

      for (const config of [legs['onnx-torch'][1], legs['torch-onnx'][1], legs.onnx[0]]) await train(config);
    } finally {
      await workers.stop();
    }

    // Each leg's updates went to the engine it named: the torch worker's queues, or never there.
    for (const config of [...legs['onnx-torch'], ...legs['torch-onnx']]) {
      const queuesUsed = (await scheduledActivities(h.client, `${config.runId}-${config.steps}`))
        .filter(([type]) => type === 'updatePolicy')
        .map(([, queue]) => queue);
      assert.ok(queuesUsed.length > 0, `${config.runId} to step ${config.steps}: no update`);
      const onTorch = queuesUsed.map((q) => q.startsWith(`${queues.trainer}-torch`));
      const torchLeg = config.orchestration?.trainer?.engine === 'torch';
      assert.ok(
        onTorch.every((t) => t === torchLeg),
        `${config.runId} to step ${config.steps}: updates on ${queuesUsed.join(', ')}`,
      );
    }

    // After the switch: within float32 rounding of the untouched ONNX run, from the first update on.
    const reference = (await readFinal(store, legs.onnx[0].runId)).params;
    const firstAfter = async (runId: string) =>
      (await runMetricsHistory(store, runId)).find((s) => s.step === SWITCH_AT + 1)!.metrics;
    const referenceMetrics = await firstAfter(legs.onnx[0].runId);
    const report: Record<string, number> = {};
    for (const name of ['onnx-torch', 'torch-onnx'] as const) {
      const runId = legs[name][0].runId;
      const metrics = await firstAfter(runId);
      for (const m of UPDATE_METRICS) {
        const d = Math.abs(metrics[m] - referenceMetrics[m]) / Math.max(Math.abs(referenceMetrics[m]), 1e-6);
        assert.ok(
          d <= METRIC_TOLERANCE,
          `${name} step ${SWITCH_AT + 1} ${m}: ${metrics[m]}, onnx ${referenceMetrics[m]}`,
        );
      }
      const mine = (await readFinal(store, runId)).params;
      let worst = 0;
      for (const [p, t] of Object.entries(reference)) {
        const x = mine[p].data;
        for (let i = 0; i < t.data.length; i++)
          worst = Math.max(worst, Math.abs(Number(x[i]) - Number(t.data[i])));
      }
      assert.ok(worst < WEIGHT_TOLERANCE, `${name}: weights after ${STEPS} steps differ by up to ${worst}`);
      report[name] = worst;
    }
    console.log(JSON.stringify({ engineSwitchWeightMaxAbsDiff: report, switchAt: SWITCH_AT, steps: STEPS }));
  },
);

async function readFinal(store: ObjectStore, runId: string) {
  const v = await verifyCheckpoint(store, runId, STEPS);
  assert.ok('manifest' in v, `${runId} checkpoint ${STEPS}: ${'problem' in v ? v.problem : ''}`);
  return (await readCheckpointState(store, v.manifest)).state;
}
