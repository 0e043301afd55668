import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import { S3ObjectStore } from '../../../core/store/index.ts';
import { isOurProcess } from '../../../infra/daemon.ts';
import { pollUntil } from '../../../infra/ports.ts';
import { isPortOpen } from '../../../infra/stack.ts';
import {
  shellExports,
  stackDown,
  stackUp,
  SHARED_TEST_BUCKET,
  type SharedStackState,
} from '../../../infra/sharedStack.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) {
    await stackDown(dir);
    await rm(dir, { recursive: true, force: true });
  }
});

it(
  'up starts both servers detached, a second up reuses them, --fresh replaces them, down stops them',
  { timeout: 120_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'reasonloop-stack-'));
    dirs.push(dir);
    const first = await stackUp(dir);
    const again = await stackUp(dir);
    assert.equal(again.temporal.pid, first.temporal.pid);
    assert.equal(again.s3.pid, first.s3.pid);

    const s3 = new S3ObjectStore({
      bucket: SHARED_TEST_BUCKET,
      endpoint: first.env.REASONLOOP_S3_ENDPOINT,
      accessKeyId: first.env.REASONLOOP_S3_ACCESS_KEY_ID,
      secretAccessKey: first.env.REASONLOOP_S3_SECRET_ACCESS_KEY,
    });
    await s3.checkReachable();
    s3.destroy();

    // The exported TEMPORAL_ADDRESS is what the `temporal` CLI itself reads.
    const cli = spawnSync(
      first.temporal.command,
      ['operator', 'namespace', 'describe', '--namespace', 'default', '-o', 'json'],
      {
        env: { ...process.env, ...first.env },
        encoding: 'utf8',
      },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout).namespaceInfo.name, 'default');

    const fresh = await stackUp(dir, { fresh: true });
    assert.notEqual(fresh.temporal.pid, first.temporal.pid);
    assert.throws(() => process.kill(first.temporal.pid, 0), 'the old dev server is gone');

    await stackDown(dir);
    await stackDown(dir); // idempotent
    for (const port of [...fresh.temporal.ports, ...fresh.s3.ports])
      assert.equal(await isPortOpen(port), false);
  },
);

it('shellExports quotes values for eval', () => {
  assert.equal(shellExports({ A: "it's" }), `export A='it'\\''s'`);
});

/** `infra/cli.ts <args>` as a user runs it; its exports parsed back from stdout. */
function infraCli(args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/cli.ts', ...args], {
    cwd: REPO,
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, `infra/cli.ts ${args.join(' ')}: ${run.stderr}`);
  const env: Record<string, string> = {};
  for (const match of run.stdout.matchAll(/^export (\w+)='((?:[^']|'\\'')*)'$/gm))
    env[match[1]] = match[2].replaceAll(`'\\''`, "'");
  return { env, stdout: run.stdout, stderr: run.stderr };
}

async function killBothServers(dir: string): Promise<SharedStackState> {
  const state = JSON.parse(await readFile(join(dir, 'stack.json'), 'utf8')) as SharedStackState;
  for (const daemon of [state.temporal, state.s3]) process.kill(daemon.pid, 'SIGKILL');
  for (const daemon of [state.temporal, state.s3])
    assert.ok(await pollUntil(async () => !(await isOurProcess(daemon.pid, daemon.command)), 10_000, 100));
  // The kernel drops a dying process's memory (its /proc cmdline reads empty) before its files, so a
  // listening socket can outlive the check above for a moment: wait until no port answers.
  for (const port of [...state.temporal.ports, ...state.s3.ports])
    assert.ok(await pollUntil(async () => !(await isPortOpen(port)), 10_000, 50), `port ${port} closes`);
  return state;
}

function s3Store(env: Record<string, string>) {
  return new S3ObjectStore({
    bucket: SHARED_TEST_BUCKET,
    endpoint: env.REASONLOOP_S3_ENDPOINT,
    accessKeyId: env.REASONLOOP_S3_ACCESS_KEY_ID,
    secretAccessKey: env.REASONLOOP_S3_SECRET_ACCESS_KEY,
  });
}

function temporalCli(env: Record<string, string>, args: string[]) {
  const run = spawnSync(env.REASONLOOP_TEMPORAL_BIN!, args, {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, `temporal ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

it(
  'after kill -9 of both servers, up restarts them on their own data: same exports, the object and the workflow history are kept; a taken port moves and says so; wipe deletes',
  { timeout: 240_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'reasonloop-stack-crash-'));
    dirs.push(dir);
    const first = infraCli(['up', '--state-dir', dir]);
    const store = s3Store(first.env);
    await store.put('crash/kept.txt', Buffer.from('still here'));
    store.destroy();
    temporalCli(first.env, [
      'workflow',
      'start',
      '--type',
      'crashProbe',
      '--task-queue',
      'crash-probe',
      '--workflow-id',
      'crash-probe-1',
    ]);

    await killBothServers(dir);
    const second = infraCli(['up', '--state-dir', dir]);
    assert.match(second.stderr, /restarting the stack recorded in .*stack\.json on its own data/);
    assert.equal(
      second.stdout,
      first.stdout,
      'same ports and credentials: the printed exports are unchanged',
    );
    const again = s3Store(second.env);
    assert.equal(Buffer.from(await again.get('crash/kept.txt')).toString(), 'still here');
    again.destroy();
    const history = JSON.parse(
      temporalCli(second.env, ['workflow', 'show', '--workflow-id', 'crash-probe-1', '-o', 'json']),
    );
    assert.equal(history.events[0].eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');

    const crashed = await killBothServers(dir);
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(crashed.s3.ports[0], '127.0.0.1', resolve));
    try {
      const third = infraCli(['up', '--state-dir', dir]);
      assert.match(third.stderr, new RegExp(`S3 port ${crashed.s3.ports[0]} is taken .* using \\d+`));
      assert.notEqual(third.env.REASONLOOP_S3_ENDPOINT, first.env.REASONLOOP_S3_ENDPOINT);
      assert.deepEqual(
        { ...third.env, REASONLOOP_S3_ENDPOINT: '' },
        { ...first.env, REASONLOOP_S3_ENDPOINT: '' },
      );
      const moved = s3Store(third.env);
      assert.equal(Buffer.from(await moved.get('crash/kept.txt')).toString(), 'still here');
      moved.destroy();
    } finally {
      squatter.close();
    }

    infraCli(['wipe', '--state-dir', dir]);
    for (const gone of ['temporal', 's3', 'stack.json'])
      await assert.rejects(stat(join(dir, gone)), { code: 'ENOENT' }, `${gone} is deleted`);
  },
);
