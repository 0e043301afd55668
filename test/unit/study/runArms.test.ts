/** study/run.ts runArms: lanes, and what happens when an arm fails while another is running. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import { causeChain, runArms, type ArmOutcome, type ArmRun } from '../../../study/run.ts';
import type { StageConfigs } from '../../../demo/recipe.ts';
import type { Arm } from '../../../study/arms.ts';

const runs: ArmRun[] = ['a', 'b', 'c', 'd', 'e'].map((id) => ({
  arm: { id } as Arm,
  seed: 1,
  config: { runId: `run-${id}` } as ArmRun['config'],
}));
const client = {} as Client;
const recipe = {} as StageConfigs;
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const outcome = (run: ArmRun) => ({ arm: run.arm.id, seed: run.seed }) as ArmOutcome;

test('runs every arm, at most `parallel` at a time', async () => {
  let running = 0;
  let most = 0;
  const done: string[] = [];
  const out = await runArms(
    client,
    recipe,
    runs,
    2,
    (o) => done.push(o.arm),
    async (_c, _d, run) => {
      most = Math.max(most, ++running);
      await tick(5);
      running--;
      return outcome(run);
    },
  );
  assert.equal(most, 2);
  assert.deepEqual(out.map((o) => o.arm).sort(), ['a', 'b', 'c', 'd', 'e']);
  assert.equal(done.length, 5);
});

test('a failed arm stops new arms, lets the running one finish, then throws naming the arm and the cause', async () => {
  const started: string[] = [];
  const finished: string[] = [];
  const failing = runArms(
    client,
    recipe,
    runs,
    2,
    () => undefined,
    async (_c, _d, run) => {
      started.push(run.arm.id);
      if (run.arm.id === 'a') {
        await tick(1);
        throw new Error('Workflow execution failed', { cause: new Error('activity sampleRollouts failed') });
      }
      await tick(30);
      finished.push(run.arm.id);
      return outcome(run);
    },
  );
  await assert.rejects(failing, (e: Error) => {
    assert.equal(
      e.message,
      'arm a seed 1 (run run-a): Workflow execution failed: activity sampleRollouts failed',
    );
    return true;
  });
  assert.deepEqual(started, ['a', 'b']);
  // The rejection came only after b, still running when a failed, had finished.
  assert.deepEqual(finished, ['b']);
});

test('causeChain follows causes and survives non-errors', () => {
  assert.equal(causeChain(new Error('x', { cause: new Error('y') })), 'x: y');
  assert.equal(causeChain('plain'), 'plain');
});
