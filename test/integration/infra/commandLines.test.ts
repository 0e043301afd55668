/**
 * The pure parts of infra/ (command lines, environment parsing, binary lookup). Kept here because
 * test/unit/ has no infra area yet; they need no server and take milliseconds.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { cachedBinaryPath, resolveTool, TEMPORAL_CLI } from '../../../infra/tools.ts';
import { temporalDevServerArgs } from '../../../infra/temporal.ts';
import { versitygwArgs } from '../../../infra/s3Server.ts';
import { temporalTargetFromEnv } from '../../../infra/temporalEnv.ts';

const scratch = mkdtemp(join(tmpdir(), 'reasonloop-infra-'));
after(async () => rm(await scratch, { recursive: true, force: true }));

it('temporalDevServerArgs: loopback, every port pinned, SQLite file, headless, fast-hop dynamic config', () => {
  const args = temporalDevServerArgs({
    port: 7233,
    httpPort: 7243,
    metricsPort: 7253,
    uiPort: undefined,
    dbFile: '/data/t.sqlite',
    namespaces: ['eval'],
    dynamicConfig: { 'history.transferProcessorMaxPollRPS': 10000 },
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
  });
  assert.ok(withUi.join(' ').includes('--ui-port 8233 --ui-ip 127.0.0.1'));
  assert.ok(!withUi.includes('--headless'));
  assert.ok(withUi.includes('some.string="x"'), 'values are JSON, as the CLI expects');
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

it('resolveTool: the override variable first (and it must be executable), then the cache, then PATH', async () => {
  const dir = await scratch;
  const env = { REASONLOOP_CACHE: join(dir, 'cache'), PATH: join(dir, 'path') };
  assert.equal(await resolveTool(TEMPORAL_CLI, env), undefined);

  const onPath = join(dir, 'path', 'temporal');
  await writeFile(join(dir, 'x'), '');
  await mkdir(join(dir, 'path'), { recursive: true });
  await writeFile(onPath, '#!/bin/sh\n');
  await chmod(onPath, 0o755);
  assert.equal(await resolveTool(TEMPORAL_CLI, env), onPath);

  const cached = cachedBinaryPath(TEMPORAL_CLI, env);
  assert.equal(cached, join(dir, 'cache', 'bin', 'temporal-v1.5.1'));
  await mkdir(join(dir, 'cache', 'bin'), { recursive: true });
  await writeFile(cached, '#!/bin/sh\n');
  await chmod(cached, 0o755);
  assert.equal(await resolveTool(TEMPORAL_CLI, env), cached);

  await assert.rejects(
    resolveTool(TEMPORAL_CLI, { ...env, REASONLOOP_TEMPORAL_BIN: join(dir, 'x') }),
    /REASONLOOP_TEMPORAL_BIN=.*\/x is not an executable file/,
  );
});
