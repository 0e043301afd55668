/**
 * setHyperParameters against a real dev server: a run paused after step 2 takes a new learning rate
 * (sent by `reasonloop set`), its later steps train with it, the validator refuses a bad value naming the
 * field; one sent while a step is past sampling applies from the step after it; and a run terminated
 * after the update and started again with the same run id keeps the override: same metrics, same final
 * weights sha256 as the uninterrupted run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { runMetricsHistory } from '../../../core/metrics/history.ts';
import { listCheckpointSteps, openStore } from '../../../core/store/index.ts';
import { setCommand } from '../../../cli/commands/set.ts';
import {
  pauseSignal,
  resumeSignal,
  setHyperParametersUpdate,
  statusQuery,
  type TrainingResult,
  type TrainingStatus,
} from '../../../workflows/definitions.ts';
import type { RunConfigInput } from '../../../core/config/run.ts';
import {
  runWorkers,
  startHarness,
  tempStoreDir,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
  type RunningWorkers,
} from './harness.ts';

/** A hung run fails its test instead of hanging the suite (each run takes seconds; CI machines are shared). */
const TEST_TIMEOUT_MS = 300_000;
/** An activity already running when its workflow is terminated still completes: wait before restarting. */
const SETTLE_MS = 1500;

const STEPS = 5;
/** The update is sent while the run waits before this step + 1. */
const UPDATED_AFTER = 2;
/** tinyRunConfig's learning rate, and the one the update sets. */
const BASE_LR = 1e-3;
const NEW_LR = 2e-4;

let h: Harness;
let workers: RunningWorkers;
const queues = uniqueQueues('hyper');
before(async () => {
  h = await startHarness();
  workers = await runWorkers(h, queues);
});
after(async () => {
  await workers?.stop();
  await h?.stop();
});

function uniqueRunId(label: string): string {
  return `${label}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs CLI `command` in-process, capturing what it prints. */
async function cli(
  command: { run(argv: string[]): Promise<number> },
  argv: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => void out.push(args.join(' '));
  console.error = (...args: unknown[]) => void err.push(args.join(' '));
  try {
    return { code: await command.run(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    Object.assign(console, { log, error });
  }
}

/**
 * A run that has done UPDATED_AFTER steps and waits, paused, before the next: the first workflow does
 * UPDATED_AFTER steps, the second (same run id, more steps) starts with the pause signal already sent.
 */
async function pausedAfterUpdatedStep(config: RunConfigInput): Promise<WorkflowHandle> {
  const first: TrainingResult = await h.client.workflow.execute('rlTraining', {
    taskQueue: queues.workflow,
    workflowId: config.runId,
    args: [{ ...config, steps: UPDATED_AFTER }],
  });
  assert.equal(first.step, UPDATED_AFTER);
  const handle = await h.client.workflow.signalWithStart('rlTraining', {
    taskQueue: queues.workflow,
    workflowId: config.runId,
    args: [config],
    signal: pauseSignal,
    signalArgs: [],
  });
  await until('the run to pause', async () => {
    const s: TrainingStatus = await handle.query(statusQuery);
    return s.phase === 'paused' ? s : undefined;
  });
  return handle;
}

async function lrByStep(storeUrl: string, runId: string): Promise<number[]> {
  const history = await runMetricsHistory(openStore(storeUrl), runId);
  assert.deepEqual(
    history.map((r) => r.step),
    Array.from({ length: STEPS }, (_, i) => i + 1),
  );
  return history.map((r) => r.metrics.lr);
}

const EXPECTED_LR = Array.from({ length: STEPS }, (_, i) => (i + 1 <= UPDATED_AFTER ? BASE_LR : NEW_LR));

let uninterrupted: TrainingResult;

describe('setHyperParameters', () => {
  it(
    'refuses bad values naming the field; a new lr applies from the next step and shows in status and metrics',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const runId = uniqueRunId('hyper');
      const storeUrl = tempStoreDir();
      const handle = await pausedAfterUpdatedStep(tinyRunConfig(runId, storeUrl, queues, { steps: STEPS }));

      await assert.rejects(
        handle.executeUpdate(setHyperParametersUpdate, { args: [{ lr: -1 }] }),
        (error: Error) =>
          error instanceof WorkflowUpdateFailedError &&
          /lr must be a number > 0 \(got -1\)/.test(error.cause!.message),
      );
      await assert.rejects(
        handle.executeUpdate(setHyperParametersUpdate, { args: [{ learningRate: 1 } as never] }),
        (error: Error) =>
          error instanceof WorkflowUpdateFailedError &&
          /unknown hyper-parameter "learningRate"/.test(error.cause!.message),
      );
      const refused = await cli(setCommand, [runId, '--top-p', '1.5']);
      assert.equal(refused.code, 1);
      assert.match(refused.err, /topP must be a number in \(0, 1\] \(got 1\.5\)/);
      const negative = await cli(setCommand, [runId, '--kl-coef', '-0.5']);
      assert.equal(negative.code, 1);
      assert.match(negative.err, /klCoef must be a number ≥ 0 \(got -0\.5\)/);
      assert.equal((await cli(setCommand, [runId, '--lr', 'fast'])).code, 2, 'not a number: a usage error');

      const sent = await cli(setCommand, [runId, '--lr', String(NEW_LR), '--json']);
      assert.equal(sent.code, 0, sent.err);
      const answer = JSON.parse(sent.out);
      assert.equal(answer.appliesFromStep, UPDATED_AFTER + 1);
      assert.deepEqual(answer.overrides, { lr: NEW_LR });
      assert.equal(answer.effective.lr, NEW_LR);
      assert.equal(answer.effective.klCoef, 0.001, 'the config value of what the update left alone');

      const status: TrainingStatus = await handle.query(statusQuery);
      assert.equal(status.step, UPDATED_AFTER);
      assert.deepEqual(status.hyperParameters?.overrides, { lr: NEW_LR });
      assert.equal(status.hyperParameters?.effective.lr, NEW_LR);

      await handle.signal(resumeSignal);
      uninterrupted = await handle.result();
      assert.equal(uninterrupted.step, STEPS);
      assert.deepEqual(await lrByStep(storeUrl, runId), EXPECTED_LR);
      const history = await runMetricsHistory(openStore(storeUrl), runId);
      assert.equal(history.at(-1)!.metrics['hyperParameters.lr'], NEW_LR, 'the checkpoint carries it');
    },
  );

  it(
    'sent while a step is past sampling, an update applies from the step after it, and exactly from there',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const runId = uniqueRunId('hypermid');
      const storeUrl = tempStoreDir();
      const handle = await h.client.workflow.start('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: runId,
        args: [tinyRunConfig(runId, storeUrl, queues, { steps: STEPS })],
      });
      const busy = await until('a step past sampling', async () => {
        const s: TrainingStatus = await handle.query(statusQuery);
        return s.phase === 'scoring' || s.phase === 'updating' || s.phase === 'checkpointing' ? s : undefined;
      });
      const answer = await handle.executeUpdate(setHyperParametersUpdate, { args: [{ lr: NEW_LR }] });
      // The step that was busy (busy.step + 1) keeps its lr; the update may land a little later.
      assert.ok(answer.appliesFromStep >= busy.step + 2, `applies from ${answer.appliesFromStep}`);
      assert.ok(answer.appliesFromStep <= STEPS);
      const result: TrainingResult = await handle.result();
      assert.equal(result.step, STEPS);
      const history = await runMetricsHistory(openStore(storeUrl), runId);
      assert.deepEqual(
        history.map((r) => r.metrics.lr),
        history.map((r) => (r.step < answer.appliesFromStep ? BASE_LR : NEW_LR)),
      );
    },
  );

  it(
    'terminated after the update and started again with the same run id (continuing as new every 2 steps), the run keeps it',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      assert.ok(uninterrupted, 'the previous test ran');
      const runId = uniqueRunId('hyperresume');
      const storeUrl = tempStoreDir();
      const config = tinyRunConfig(runId, storeUrl, queues, {
        steps: STEPS,
        orchestration: {
          continueAsNewEvery: 2,
          taskQueues: { rollout: queues.rollout, cpu: queues.cpu, trainer: queues.trainer },
        },
      });
      const handle = await pausedAfterUpdatedStep(config);
      const answer = await handle.executeUpdate(setHyperParametersUpdate, { args: [{ lr: NEW_LR }] });
      assert.equal(answer.appliesFromStep, UPDATED_AFTER + 1);
      await handle.signal(resumeSignal);

      const store = openStore(storeUrl);
      await until('the first checkpoint with the new lr', async () =>
        (await listCheckpointSteps(store, runId)).withManifest.some((s) => s > UPDATED_AFTER)
          ? true
          : undefined,
      );
      await h.client.workflow.getHandle(runId).terminate('test: interrupt after the update');
      await new Promise((r) => setTimeout(r, SETTLE_MS));

      const restarted = await h.client.workflow.start('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: runId,
        args: [config],
      });
      const resumedStatus = await until('the restarted run to read its checkpoint', async () => {
        const s: TrainingStatus = await restarted.query(statusQuery);
        return s.hyperParameters ? s : undefined;
      });
      assert.deepEqual(resumedStatus.hyperParameters!.overrides, { lr: NEW_LR });
      const result: TrainingResult = await restarted.result();
      assert.equal(result.step, STEPS);
      assert.deepEqual(await lrByStep(storeUrl, runId), EXPECTED_LR);
      assert.equal(result.weightsSha256, uninterrupted.weightsSha256);
    },
  );
});
