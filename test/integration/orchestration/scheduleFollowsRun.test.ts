/**
 * A Temporal Schedule made by `reasonloop schedule create` follows a training run: while rlTraining is
 * going (held with the pause signal between steps, so "the newest checkpoint" cannot move under the
 * evaluation), a trigger starts an evaluation of the run's newest checkpoint; after the run makes another
 * step, the next trigger evaluates the new checkpoint, not the old one again.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { EvaluationSummary } from '../../../core/metrics/evaluation.ts';
import type { EvaluationConfigInput } from '../../../core/config/evaluation.ts';
import { latestVerifiedCheckpoint, LocalFolderStore } from '../../../core/store/index.ts';
import {
  pauseSignal,
  resumeSignal,
  statusQuery,
  stopSignal,
  type TrainingResult,
  type TrainingStatus,
} from '../../../workflows/definitions.ts';
import { capture } from '../../unit/cli/capture.ts';
import {
  runWorkers,
  startHarness,
  tempStoreDir,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from './harness.ts';

const TEST_TIMEOUT_MS = 300_000;
/** How often the test polls a status query or a schedule description. */
const POLL_MS = 20;
/** Longest wait for a run or a schedule to reach an expected state (a step of the tiny run takes ~1 s). */
const WAIT_MS = 120_000;

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

const STEP_PHASES: readonly TrainingStatus['phase'][] = ['sampling', 'scoring', 'updating', 'checkpointing'];

/**
 * Lets the run make (at least) one more step and holds it before the next: resume if paused, wait until a
 * step is under way, then pause — the pause lands inside that step, so the run holds once it is
 * checkpointed. Returns the step the run holds at.
 */
async function holdAfterNextStep(run: WorkflowHandle): Promise<number> {
  const before = await run.query(statusQuery);
  if (before.paused) await run.signal(resumeSignal);
  await waitFor('a step to start', async () => {
    const s = await run.query(statusQuery);
    return STEP_PHASES.includes(s.phase) && s.step >= before.step ? true : undefined;
  });
  await run.signal(pauseSignal);
  const held = await waitFor('the run to hold', async () => {
    const s = await run.query(statusQuery);
    return s.phase === 'paused' ? s : undefined;
  });
  assert.ok(held.step > before.step, `the run made a step (held at ${held.step}, was ${before.step})`);
  return held.step;
}

/** Fires the schedule now and returns the evaluation workflow that firing started. */
async function triggerEvaluation(client: Client, scheduleId: string): Promise<EvaluationSummary> {
  const schedule = client.schedule.getHandle(scheduleId);
  const taken = (await schedule.describe()).info.recentActions.length;
  await schedule.trigger();
  const workflowId = await waitFor('the schedule to start an evaluation', async () => {
    const actions = (await schedule.describe()).info.recentActions;
    return actions.length > taken ? actions.at(-1)!.action.workflow.workflowId : undefined;
  });
  return client.workflow.getHandle(workflowId).result();
}

it(
  'a schedule from `reasonloop schedule create` evaluates the newest checkpoint at each firing',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const queues = uniqueQueues('sched-follow');
    const runId = `sched-follow-${Date.now().toString(36)}`;
    const storeUrl = tempStoreDir();
    const store = new LocalFolderStore(storeUrl);
    const evalConfig: EvaluationConfigInput = {
      evalId: `${runId}-heldout`,
      model: { checkpoint: { runId } },
      task: { kind: 'reverseDigits', digits: 2 },
      sampling: { temperature: 0, maxNewTokens: 3 },
      limit: 8,
      store: { url: storeUrl },
      orchestration: { taskQueue: queues.rollout },
    };
    const configFile = join(storeUrl, 'eval.json');
    writeFileSync(configFile, JSON.stringify(evalConfig));
    const scheduleId = `${runId}-schedule`;

    const workers = await runWorkers(h, queues);
    const run = await h.client.workflow.start('rlTraining', {
      taskQueue: queues.workflow,
      workflowId: runId,
      // More steps than the test lets it make: it is stopped at the end.
      args: [tinyRunConfig(runId, storeUrl, queues, { steps: 10 })],
    });
    let created = false;
    try {
      // An interval far beyond the test: only the triggers fire it.
      const made = await capture([
        'schedule',
        'create',
        '--config',
        configFile,
        '--every',
        '1h',
        '--schedule-id',
        scheduleId,
        '--task-queue',
        queues.workflow,
      ]);
      assert.equal(made.code, 0, made.err);
      created = true;
      assert.match(
        made.out,
        new RegExp(`created schedule ${scheduleId}: evaluation ${evalConfig.evalId} every 1h`),
      );

      const evaluated: number[] = [];
      for (let firing = 0; firing < 2; firing++) {
        const held = await holdAfterNextStep(run);
        const newest = (await latestVerifiedCheckpoint(store, runId)).manifest?.step;
        assert.equal(newest, held, 'the held run has checkpointed its step');
        const summary = await triggerEvaluation(h.client, scheduleId);
        assert.equal(summary.model, `checkpoint:${runId}@${held}`);
        assert.equal(summary.step, held);
        assert.equal(summary.evalId, evalConfig.evalId);
        assert.equal(summary.problems, 8);
        evaluated.push(summary.step!);
      }
      assert.ok(evaluated[1] > evaluated[0], `the second firing evaluated a newer step (${evaluated})`);
    } finally {
      if (created) {
        const removed = await capture(['schedule', 'delete', scheduleId]);
        assert.equal(removed.code, 0, removed.err);
      }
      await run.signal(stopSignal);
      const result: TrainingResult = await run.result();
      assert.equal(result.stopped, true);
      await workers.stop();
    }
    await assert.rejects(h.client.schedule.getHandle(scheduleId).describe(), /not found/i);
  },
);
