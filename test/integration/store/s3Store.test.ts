import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { S3ObjectStore, openStore, type S3StoreConfig } from '../../../core/store/index.ts';
import { freePort, startS3Server, type S3Server } from '../../../infra/stack.ts';
import { objectStoreContract } from '../../unit/store/objectStoreContract.ts';

/** S3's minimum part size: the contract's 11 MiB object then goes up in three parts. */
const MIN_PART_BYTES = 5 * 1024 * 1024;
/** What "quickly" means for a wrong endpoint or wrong credentials (the health check's budget is 2 s). */
const FAST_FAILURE_MS = 4_000;
const BUCKET = 'contract';

let server: S3Server;
const stores: S3ObjectStore[] = [];
let counter = 0;

before(async () => {
  server = await startS3Server({ buckets: [BUCKET] });
});
after(async () => {
  for (const store of stores) store.destroy();
  await server?.stop();
});

function store(config: Partial<S3StoreConfig> = {}): S3ObjectStore {
  const s = new S3ObjectStore({
    ...server.storeConfig(BUCKET, `case-${++counter}`),
    partSizeBytes: MIN_PART_BYTES,
    ...config,
  });
  stores.push(s);
  return s;
}

objectStoreContract('S3 (versitygw)', async (options = {}) => store(options));

describe('S3 store: clear, fast errors', () => {
  it('a reachable server with the right credentials passes the check', async () => {
    await store().checkReachable();
  });

  it('an endpoint where nothing listens is named as unreachable, within seconds', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    await assert.rejects(store({ endpoint }).checkReachable(), (error: Error) => {
      assert.match(error.message, new RegExp(`^S3 endpoint ${endpoint} is unreachable \\(ECONNREFUSED\\)`));
      return true;
    });
    assert.ok(Date.now() - started < FAST_FAILURE_MS, `took ${Date.now() - started} ms`);
  });

  it('wrong credentials are named with the access key and the endpoint', async () => {
    const started = Date.now();
    await assert.rejects(store({ secretAccessKey: 'wrong-secret' }).checkReachable(), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(
          `S3 endpoint s3://${BUCKET}/case-\\d+ \\(${server.endpoint}\\) refused the credentials for access key ${server.accessKeyId}`,
        ),
      );
      return true;
    });
    await assert.rejects(
      store({ accessKeyId: 'nobody' }).put('x', new Uint8Array([1])),
      /refused the credentials for access key nobody during PutObject x/,
    );
    assert.ok(Date.now() - started < FAST_FAILURE_MS, `took ${Date.now() - started} ms`);
  });

  it('a missing bucket is named; ensureBucket creates it', async () => {
    const s = store({ bucket: 'not-there-yet' });
    await assert.rejects(
      s.checkReachable(),
      /S3 bucket not-there-yet does not exist at s3:\/\/not-there-yet/,
    );
    await s.ensureBucket();
    await s.checkReachable();
    await s.put('k', new Uint8Array([7]));
    assert.deepEqual(await s.get('k'), new Uint8Array([7]));
  });

  it('openStore reads the endpoint and credentials from the environment', async () => {
    const s = openStore(`s3://${BUCKET}/from-env`, {
      REASONLOOP_S3_ENDPOINT: server.endpoint,
      REASONLOOP_S3_ACCESS_KEY_ID: server.accessKeyId,
      REASONLOOP_S3_SECRET_ACCESS_KEY: server.secretAccessKey,
    }) as S3ObjectStore;
    stores.push(s);
    await s.put('runs/r/x', new TextEncoder().encode('hello'));
    assert.deepEqual(await store({ prefix: 'from-env' }).list('runs/'), [{ key: 'runs/r/x', size: 5 }]);
  });
});
