/**
 * Driving runs from outside: `reasonloop train` / `status` / `pause` / `resume` / `stop`, and the same run
 * started by the `temporal` CLI with `--input-file` from examples/run.json.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { trainCommand } from '../../../cli/commands/train.ts';
import { pauseCommand, resumeCommand, stopCommand } from '../../../cli/commands/runSignals.ts';
import { statusCommand } from '../../../cli/commands/status.ts';
import { resolveTool, TEMPORAL_CLI } from '../../../infra/stack.ts';
import { statusQuery, type TrainingResult, type TrainingStatus } from '../../../workflows/definitions.ts';
import {
  runWorkers,
  startHarness,
  tempStoreDir,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from './harness.ts';

/** A hung run fails its test instead of hanging the suite (each run takes seconds; CI machines are shared). */
const TEST_TIMEOUT_MS = 300_000;

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

/** Runs a CLI command in-process, capturing what it prints. */
async function cli(
  command: { run(argv: string[]): Promise<number> },
  argv: string[],
): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(' '));
  try {
    return { code: await command.run(argv), out: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('run controls', () => {
  it(
    'train starts a run; pause holds it, resume lets it go on, stop ends it after a checkpointed step; train resumes it',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('controls');
      const workers = await runWorkers(h, queues);
      try {
        const runId = `controls-${Date.now().toString(36)}`;
        const file = join(tempStoreDir(), 'run.json');
        writeFileSync(file, JSON.stringify(tinyRunConfig(runId, tempStoreDir(), queues, { steps: 6 })));
        const started = await cli(trainCommand, ['--config', file, '--task-queue', queues.workflow]);
        assert.equal(started.code, 0);
        assert.match(
          started.out,
          new RegExp(
            `temporal workflow start --type rlTraining --task-queue ${queues.workflow} --workflow-id ${runId} --input-file `,
          ),
        );
        assert.equal((await cli(pauseCommand, [runId])).code, 0);

        const handle = h.client.workflow.getHandle(runId);
        const paused = await until('the paused phase', async () => {
          const s: TrainingStatus = await handle.query(statusQuery);
          return s.phase === 'paused' ? s : undefined;
        });
        await new Promise((r) => setTimeout(r, 500));
        assert.equal((await handle.query(statusQuery)).step, paused.step, 'no step while paused');
        const shown = await cli(statusCommand, [runId]);
        assert.match(shown.out, new RegExp(`^${runId} \\[[#.]{20}\\] ${paused.step}/6 paused`));

        assert.equal((await cli(resumeCommand, [runId])).code, 0);
        await until('a step after resume', async () =>
          (await handle.query(statusQuery)).step > paused.step ? true : undefined,
        );
        assert.equal((await cli(stopCommand, [runId])).code, 0);
        const stopped: TrainingResult = await handle.result();
        assert.equal(stopped.stopped, true);
        assert.ok(stopped.step > paused.step && stopped.step < 6, `stopped at step ${stopped.step}`);

        assert.equal((await cli(trainCommand, ['--config', file, '--task-queue', queues.workflow])).code, 0);
        const finished: TrainingResult = await h.client.workflow.getHandle(runId).result();
        assert.equal(finished.step, 6);
        assert.equal(finished.stopped, false);
      } finally {
        await workers.stop();
      }
    },
  );

  it(
    'temporal workflow start --input-file with examples/run.json (store and queues adapted) runs to the end',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const temporal = await resolveTool(TEMPORAL_CLI);
      assert.ok(temporal, 'the temporal CLI is installed (node --import tsx infra/cli.ts install)');
      const queues = uniqueQueues('cli');
      const workers = await runWorkers(h, queues);
      try {
        const example = JSON.parse(
          readFileSync(new URL('../../../examples/run.json', import.meta.url), 'utf8'),
        );
        const runId = `example-${Date.now().toString(36)}`;
        const file = join(tempStoreDir(), 'run.json');
        writeFileSync(
          file,
          JSON.stringify({
            ...example,
            runId,
            steps: 2,
            store: { ...example.store, url: tempStoreDir() },
            orchestration: {
              ...example.orchestration,
              taskQueues: { rollout: queues.rollout, cpu: queues.cpu, trainer: queues.trainer },
            },
          }),
        );
        await promisify(execFile)(temporal!, [
          'workflow',
          'start',
          '--address',
          h.temporalAddress,
          '--type',
          'rlTraining',
          '--task-queue',
          queues.workflow,
          '--workflow-id',
          runId,
          '--input-file',
          file,
        ]);
        const result: TrainingResult = await h.client.workflow.getHandle(runId).result();
        assert.equal(result.step, 2);
        assert.match(result.weightsSha256, /^[0-9a-f]{64}$/);
      } finally {
        await workers.stop();
      }
    },
  );
});
