import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { S3ObjectStore } from '../../../core/store/index.ts';
import { isPortOpen } from '../../../infra/stack.ts';
import { shellExports, stackDown, stackUp, SHARED_TEST_BUCKET } from '../../../infra/sharedStack.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) {
    await stackDown(dir);
    await rm(dir, { recursive: true, force: true });
  }
});

it('up starts both servers detached, a second up reuses them, --fresh replaces them, down stops them', async () => {
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
});

it('shellExports quotes values for eval', () => {
  assert.equal(shellExports({ A: "it's" }), `export A='it'\\''s'`);
});
