/**
 * Issue 18's "must show": a 2.5 GB object round-trips through both stores (a local folder and versitygw
 * S3, multipart) with its sha256 verified, while the process's peak RSS stays far below the object's size.
 * Each round trip runs in a child process (largeObjectRoundTrip.ts) so the RSS measured is its own.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { useOrStartS3 } from '../../../infra/stack.ts';
import type { RoundTripResult, RoundTripSpec } from './largeObjectRoundTrip.ts';

/** 2.5 GB: above Node's 2 GiB limit on one buffer read, so nothing on the path may buffer the object. */
const OBJECT_BYTES = 2_500_000_000;
/** "Far below the object's size": under a quarter of it, with room for Node, tsx and the AWS SDK. */
const MAX_RSS_BYTES = 600 * 1024 * 1024;
/** sha256 of largeObjectRoundTrip.ts's content(OBJECT_BYTES), computed apart from any store code. */
const CONTENT_SHA256 = 'cb4dfaa9f2ee075d048080d168e38debad534f4d2f2b8864a3a7072b141e5bab';
const CHILD = fileURLToPath(new URL('./largeObjectRoundTrip.ts', import.meta.url));
/** Generous for 2 × 2.5 GB through versitygw on a loaded 2-core machine. */
const CHILD_TIMEOUT_MS = 240_000;

async function roundTrip(spec: RoundTripSpec): Promise<RoundTripResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', CHILD, JSON.stringify(spec)],
    {
      timeout: CHILD_TIMEOUT_MS,
      maxBuffer: 1024 * 1024,
    },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as RoundTripResult;
}

function assertRoundTrip(result: RoundTripResult): void {
  assert.deepEqual(result.put, { size: OBJECT_BYTES, sha256: CONTENT_SHA256 });
  assert.equal(result.head, OBJECT_BYTES);
  assert.deepEqual(result.got, { size: OBJECT_BYTES, sha256: CONTENT_SHA256 });
  assert.equal(result.existsAfterDelete, false);
  assert.ok(
    result.maxRssBytes < MAX_RSS_BYTES,
    `peak RSS ${(result.maxRssBytes / 2 ** 20).toFixed(0)} MiB for a ${OBJECT_BYTES}-byte object`,
  );
}

describe('a 2.5 GB object through both stores', () => {
  let s3: Awaited<ReturnType<typeof useOrStartS3>>;
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'reasonloop-large-object-'));
    s3 = await useOrStartS3();
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await s3?.stop();
  });

  it('local folder: streamed in and out, sha256 verified, RSS bounded', async () => {
    const result = await roundTrip({
      store: { kind: 'local', root },
      key: 'large/object.bin',
      bytes: OBJECT_BYTES,
    });
    console.log(
      `local: put ${result.putSeconds} s, get ${result.getSeconds} s, peak RSS ${(result.maxRssBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    assertRoundTrip(result);
  });

  it('S3 (versitygw): multipart upload and download, sha256 verified, RSS bounded', async () => {
    const result = await roundTrip({
      store: {
        kind: 's3',
        config: {
          bucket: 'large-object',
          prefix: `run-${process.pid}`,
          endpoint: s3.endpoint,
          region: s3.region,
          accessKeyId: s3.accessKeyId,
          secretAccessKey: s3.secretAccessKey,
        },
      },
      key: 'large/object.bin',
      bytes: OBJECT_BYTES,
    });
    console.log(
      `s3: put ${result.putSeconds} s, get ${result.getSeconds} s, peak RSS ${(result.maxRssBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    assertRoundTrip(result);
  });
});
