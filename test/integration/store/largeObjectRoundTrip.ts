/**
 * Run by largeObject.test.ts in a child process, so the peak RSS it reports is this round trip's own:
 * streams `bytes` deterministic bytes (generated chunk by chunk, never whole) into a store with putStream,
 * reads them back with getStream, hashes both ways, deletes the object and prints one JSON line.
 * Usage: node --import tsx largeObjectRoundTrip.ts '<json spec>'
 */
import { Readable } from 'node:stream';
import {
  LocalFolderStore,
  S3ObjectStore,
  sha256OfStream,
  type ObjectStore,
  type S3StoreConfig,
} from '../../../core/store/index.ts';

export interface RoundTripSpec {
  store: { kind: 'local'; root: string } | { kind: 's3'; config: S3StoreConfig };
  key: string;
  bytes: number;
}

export interface RoundTripResult {
  put: { size: number; sha256: string };
  head: number | undefined;
  got: { size: number; sha256: string };
  existsAfterDelete: boolean;
  maxRssBytes: number;
  putSeconds: number;
  getSeconds: number;
}

const CHUNK_BYTES = 1024 * 1024;

/** Chunk i is filled with (i × 31) & 0xff and starts with i as a u32: every chunk differs, nothing random. */
function* content(bytes: number): Generator<Buffer> {
  for (let i = 0, done = 0; done < bytes; i++) {
    const chunk = Buffer.alloc(Math.min(CHUNK_BYTES, bytes - done), (i * 31) & 0xff);
    if (chunk.length >= 4) chunk.writeUInt32LE(i, 0);
    done += chunk.length;
    yield chunk;
  }
}

async function main(spec: RoundTripSpec): Promise<RoundTripResult> {
  let store: ObjectStore;
  if (spec.store.kind === 'local') store = new LocalFolderStore(spec.store.root);
  else {
    const s3 = new S3ObjectStore(spec.store.config);
    await s3.ensureBucket();
    store = s3;
  }
  let started = Date.now();
  const put = await store.putStream(spec.key, Readable.from(content(spec.bytes)));
  const putSeconds = (Date.now() - started) / 1000;
  const head = (await store.head(spec.key))?.size;
  started = Date.now();
  const got = await sha256OfStream(await store.getStream(spec.key));
  const getSeconds = (Date.now() - started) / 1000;
  await store.delete(spec.key);
  const existsAfterDelete = await store.exists(spec.key);
  if (store instanceof S3ObjectStore) store.destroy();
  return {
    put: { size: put.size, sha256: put.sha256 },
    head,
    got,
    existsAfterDelete,
    // resourceUsage().maxRSS is in kilobytes.
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    putSeconds,
    getSeconds,
  };
}

process.stdout.write(`${JSON.stringify(await main(JSON.parse(process.argv[2]!) as RoundTripSpec))}\n`);
