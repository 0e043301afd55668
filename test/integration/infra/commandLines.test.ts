/**
 * The pure parts of infra/ (command lines, environment parsing, binary lookup). Kept here because
 * test/unit/ has no infra area yet; they need no server and take milliseconds.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, it } from 'node:test';
import { cachedBuildPath, cachedPrebuiltPath, resolveTool, TEMPORAL_CLI } from '../../../infra/tools.ts';
import { temporalDevServerArgs } from '../../../infra/temporal.ts';
import { versitygwArgs } from '../../../infra/s3Server.ts';
import { temporalTargetFromEnv } from '../../../client/connection.ts';

const scratch = mkdtemp(join(tmpdir(), 'reasonloop-infra-'));
after(async () => rm(await scratch, { recursive: true, force: true }));

it('temporalDevServerArgs: loopback, every port pinned, SQLite file and its pragmas, headless, fast-hop dynamic config', () => {
  const args = temporalDevServerArgs({
    port: 7233,
    httpPort: 7243,
    metricsPort: 7253,
    uiPort: undefined,
    dbFile: '/data/t.sqlite',
    namespaces: ['eval'],
    dynamicConfig: { 'history.transferProcessorMaxPollRPS': 10000 },
    sqlitePragmas: { journal_mode: 'wal', synchronous: 'normal' },
  });
  assert.deepEqual(args, [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    '7233',
    '--db-filename',
    '/data/t.sqlite',
    '--http-port',
    '7243',
    '--metrics-port',
    '7253',
    '--headless',
    '--dynamic-config-value',
    'history.transferProcessorMaxPollRPS=10000',
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    '--namespace',
    'eval',
    '--log-level',
    'warn',
  ]);
  const withUi = temporalDevServerArgs({
    port: 1,
    httpPort: 2,
    metricsPort: 3,
    uiPort: 8233,
    dbFile: 'f',
    namespaces: [],
    dynamicConfig: { 'some.string': 'x' },
    sqlitePragmas: {},
  });
  assert.ok(withUi.join(' ').includes('--ui-port 8233 --ui-ip 127.0.0.1'));
  assert.ok(!withUi.includes('--headless'));
  assert.ok(withUi.includes('some.string="x"'), 'values are JSON, as the CLI expects');
  assert.ok(!withUi.includes('--sqlite-pragma'), 'no pragmas given: SQLite defaults');
});

it('versitygwArgs: loopback port, quiet, posix backend on the data folder', () => {
  assert.deepEqual(versitygwArgs(7070, '/d'), ['--port', '127.0.0.1:7070', '--quiet', 'posix', '/d']);
});

it('temporalTargetFromEnv: dev defaults; an API key turns TLS on; mTLS needs both files', async () => {
  assert.deepEqual(temporalTargetFromEnv({}), {
    address: '127.0.0.1:7233',
    namespace: 'default',
    connectionOptions: { address: '127.0.0.1:7233', tls: false },
  });
  const cloud = temporalTargetFromEnv({
    TEMPORAL_ADDRESS: 'us-east-1.aws.api.temporal.io:7233',
    TEMPORAL_NAMESPACE: 'ns.acct',
    TEMPORAL_API_KEY: 'key',
  });
  assert.deepEqual(cloud.connectionOptions, {
    address: 'us-east-1.aws.api.temporal.io:7233',
    apiKey: 'key',
    tls: {},
  });
  assert.equal(cloud.namespace, 'ns.acct');
  assert.deepEqual(
    temporalTargetFromEnv({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }).connectionOptions.tls,
    false,
  );

  const pem = join(await scratch, 'cert.pem');
  await writeFile(pem, 'PEM');
  assert.throws(
    () => temporalTargetFromEnv({ TEMPORAL_TLS_CLIENT_CERT_PATH: pem }),
    /set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/,
  );
  const mtls = temporalTargetFromEnv({
    TEMPORAL_TLS_CLIENT_CERT_PATH: pem,
    TEMPORAL_TLS_CLIENT_KEY_PATH: pem,
  });
  assert.deepEqual(mtls.connectionOptions.tls, {
    clientCertPair: { crt: Buffer.from('PEM'), key: Buffer.from('PEM') },
  });
  assert.throws(
    () => temporalTargetFromEnv({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/no/such.pem' }),
    /TEMPORAL_TLS_SERVER_CA_CERT_PATH=\/no\/such\.pem cannot be read/,
  );
  assert.throws(
    () => temporalTargetFromEnv({ TEMPORAL_TLS: 'yes please' }),
    /TEMPORAL_TLS must be true or false/,
  );
});

it('resolveTool: the override variable first (it must be executable), then a working binary on PATH, then the prebuilt one in the cache, then a Go build', async () => {
  const dir = await scratch;
  const env = { REASONLOOP_CACHE: join(dir, 'cache'), PATH: join(dir, 'path') };
  assert.equal(await resolveTool(TEMPORAL_CLI, env), undefined);
  const script = async (path: string, exitCode: number) => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `#!/bin/sh\nexit ${exitCode}\n`);
    await chmod(path, 0o755);
  };

  const built = cachedBuildPath(TEMPORAL_CLI, env);
  assert.equal(built, join(dir, 'cache', 'bin', 'temporal-v1.5.1'));
  await script(built, 0);
  assert.equal(await resolveTool(TEMPORAL_CLI, env), built);

  const prebuilt = cachedPrebuiltPath(TEMPORAL_CLI, env);
  assert.equal(prebuilt, join(dir, 'cache', 'bin', 'temporal-v1.9.1'));
  await script(prebuilt!, 0);
  assert.equal(await resolveTool(TEMPORAL_CLI, env), prebuilt);

  const onPath = join(dir, 'path', 'temporal');
  await script(onPath, 1);
  assert.equal(
    await resolveTool(TEMPORAL_CLI, env),
    prebuilt,
    'a `temporal` on PATH that fails --version is skipped',
  );
  await script(onPath, 0);
  assert.equal(await resolveTool(TEMPORAL_CLI, env), onPath);

  await writeFile(join(dir, 'x'), '');
  await assert.rejects(
    resolveTool(TEMPORAL_CLI, { ...env, REASONLOOP_TEMPORAL_BIN: join(dir, 'x') }),
    /REASONLOOP_TEMPORAL_BIN=.*\/x is not an executable file/,
  );
  assert.equal(await resolveTool(TEMPORAL_CLI, { ...env, REASONLOOP_TEMPORAL_BIN: built }), built);
});
