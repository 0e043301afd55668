/**
 * The one contract every ObjectStore must meet, run against the local folder (test/unit/store) and a real
 * S3 server (test/integration/store). `makeStore` returns an empty store each time.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import {
  ObjectNotFoundError,
  ObjectTooLargeError,
  sha256Hex,
  sha256OfStream,
  applyRetention,
  checkpointKey,
  latestVerifiedCheckpoint,
  restoreCheckpointObjects,
  writeCheckpoint,
  type ObjectStore,
} from '../../../core/store/index.ts';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Bigger than two 5 MiB parts, so an S3 store with 5 MiB parts does a real multipart upload. */
const MULTIPART_BYTES = 11 * 1024 * 1024 + 123;

/** A fresh, empty store; `maxGetBytes` lowers the most `get` reads into memory. */
export type MakeStore = (options?: { maxGetBytes?: number }) => Promise<ObjectStore>;

/** Deterministic bytes, different in every chunk, generated as they are read (never whole in memory). */
function* patternChunks(chunks: number, chunkBytes: number): Generator<Buffer> {
  for (let i = 0; i < chunks; i++) {
    const chunk = Buffer.alloc(chunkBytes, i & 0xff);
    chunk.writeUInt32LE(i, 0);
    yield chunk;
  }
}

export function objectStoreContract(name: string, makeStore: MakeStore): void {
  describe(`ObjectStore contract: ${name}`, () => {
    const scratch = mkdtemp(join(tmpdir(), 'reasonloop-store-contract-'));
    after(async () => rm(await scratch, { recursive: true, force: true }));

    it('round-trips bytes, including every byte value and an empty object', async () => {
      const store = await makeStore();
      const bytes = new Uint8Array(256).map((_, i) => i);
      assert.deepEqual(await store.put('a/bytes.bin', bytes), { key: 'a/bytes.bin', size: 256 });
      assert.deepEqual(await store.get('a/bytes.bin'), bytes);
      await store.put('a/empty', new Uint8Array(0));
      assert.deepEqual(await store.get('a/empty'), new Uint8Array(0));
      assert.deepEqual(await store.head('a/empty'), { key: 'a/empty', size: 0 });
    });

    it('round-trips a stream and a file, and streams back what was stored', async () => {
      const store = await makeStore();
      const payload = randomBytes(300_000);
      const info = await store.putStream(
        's/stream.bin',
        Readable.from([payload.subarray(0, 1000), payload.subarray(1000)]),
      );
      assert.equal(info.size, payload.length);
      assert.deepEqual(await collect(await store.getStream('s/stream.bin')), payload);
      const source = join(await scratch, `${name}-source.bin`);
      await writeFile(source, payload);
      assert.equal((await store.putStream('s/file.bin', source)).size, payload.length);
      const target = join(await scratch, `${name}-nested`, 'copy.bin');
      assert.equal((await store.getFile('s/file.bin', target)).size, payload.length);
      assert.deepEqual(await readFile(target), payload);
    });

    it('uploads a multi-part-sized object intact', async () => {
      const store = await makeStore();
      const payload = randomBytes(MULTIPART_BYTES);
      await store.putStream('big/object.bin', Readable.from(payload));
      assert.deepEqual(await store.head('big/object.bin'), { key: 'big/object.bin', size: MULTIPART_BYTES });
      assert.ok(payload.equals(await store.get('big/object.bin')));
    });

    it('putStream returns the sha256 and size of what it stored, from a stream or a file', async () => {
      const store = await makeStore();
      const payload = Buffer.concat([...patternChunks(3, Math.ceil(MULTIPART_BYTES / 3))]);
      const expected = { sha256: sha256Hex(payload), size: payload.length };
      assert.deepEqual(
        await store.putStream('h/stream', Readable.from(patternChunks(3, Math.ceil(MULTIPART_BYTES / 3)))),
        {
          key: 'h/stream',
          ...expected,
        },
      );
      const source = join(await scratch, `${name}-hashed.bin`);
      await writeFile(source, payload);
      assert.deepEqual(await store.putStream('h/file', source), { key: 'h/file', ...expected });
      assert.deepEqual(await sha256OfStream(await store.getStream('h/stream')), expected);
      assert.deepEqual(await sha256OfStream(await store.getStream('h/file')), expected);
      assert.deepEqual(await store.putStream('h/empty', Readable.from([])), {
        key: 'h/empty',
        size: 0,
        sha256: sha256Hex(new Uint8Array(0)),
      });
    });

    it('a stream that fails part-way stores nothing and leaves the old value', async () => {
      const store = await makeStore();
      await store.put('f/key', new Uint8Array([1, 2, 3]));
      async function* failing(): AsyncGenerator<Buffer> {
        yield* patternChunks(2, 4 * 1024 * 1024);
        throw new Error('source broke');
      }
      await assert.rejects(store.putStream('f/key', Readable.from(failing())), /source broke/);
      await assert.rejects(store.putStream('f/new', Readable.from(failing())), /source broke/);
      assert.deepEqual(await store.get('f/key'), new Uint8Array([1, 2, 3]));
      assert.equal(await store.exists('f/new'), false);
      await assert.rejects(store.putStream('f/missing', join(await scratch, 'no-such-file')), /ENOENT/);
      assert.equal(await store.exists('f/missing'), false);
    });

    it('get refuses an object above maxGetBytes, naming the key and both sizes; streams still read it', async () => {
      const store = await makeStore({ maxGetBytes: 1000 });
      await store.put('l/small', new Uint8Array(1000).fill(7));
      assert.deepEqual(await store.get('l/small'), new Uint8Array(1000).fill(7));
      await store.put('l/large', new Uint8Array(1001).fill(9));
      await assert.rejects(store.get('l/large'), (e: unknown) => {
        assert.ok(e instanceof ObjectTooLargeError);
        assert.equal(e.key, 'l/large');
        assert.equal(e.size, 1001);
        assert.equal(e.limit, 1000);
        assert.match(
          e.message,
          /^object l\/large in .+ has 1001 bytes, more than the 1000 bytes get\(\) reads/,
        );
        return true;
      });
      assert.equal((await collect(await store.getStream('l/large'))).length, 1001);
    });

    it('reports missing keys: get and getStream throw ObjectNotFoundError, head is undefined', async () => {
      const store = await makeStore();
      await assert.rejects(
        store.get('no/such/key'),
        (e: unknown) => e instanceof ObjectNotFoundError && e.key === 'no/such/key',
      );
      await assert.rejects(store.getStream('no/such/key'), ObjectNotFoundError);
      assert.equal(await store.head('no/such/key'), undefined);
      assert.equal(await store.exists('no/such/key'), false);
      await store.put('no/such', new Uint8Array([1]));
      // A "folder" of other keys is not an object.
      assert.equal(await store.exists('no'), false);
      await assert.rejects(store.get('no'), ObjectNotFoundError);
    });

    it('overwrites a key with the new bytes', async () => {
      const store = await makeStore();
      await store.put('k', new Uint8Array([1, 2, 3]));
      await store.put('k', new Uint8Array([9]));
      assert.deepEqual(await store.get('k'), new Uint8Array([9]));
    });

    it('concurrent writers of one key leave one whole value, never a mix', async () => {
      const store = await makeStore();
      const values = [0x11, 0x22, 0x33, 0x44].map((b) => new Uint8Array(200_000).fill(b));
      await Promise.all(values.map((v) => store.put('race/key', v)));
      const result = await store.get('race/key');
      assert.equal(result.length, 200_000);
      assert.ok(
        values.some((v) => Buffer.from(v).equals(result)),
        'the stored value is one of the written ones',
      );
    });

    it('lists by plain string prefix, sorted by key, with sizes', async () => {
      const store = await makeStore();
      for (const key of ['runs/b/x', 'runs/a/2', 'runs/a/10/deep/file', 'runs/ab/y', 'other/z']) {
        await store.put(key, new TextEncoder().encode(key));
      }
      const keys = async (prefix: string) => (await store.list(prefix)).map((o) => o.key);
      assert.deepEqual(await keys('runs/a/'), ['runs/a/10/deep/file', 'runs/a/2']);
      assert.deepEqual(await keys('runs/a'), ['runs/a/10/deep/file', 'runs/a/2', 'runs/ab/y']);
      assert.deepEqual(await keys(''), [
        'other/z',
        'runs/a/10/deep/file',
        'runs/a/2',
        'runs/ab/y',
        'runs/b/x',
      ]);
      assert.deepEqual(await keys('runs/c/'), []);
      assert.deepEqual(await keys('runs/a/10/de'), ['runs/a/10/deep/file']);
      assert.deepEqual(await store.list('runs/b/'), [{ key: 'runs/b/x', size: 8 }]);
    });

    it('deletes one or many keys; deleting a missing key is not an error', async () => {
      const store = await makeStore();
      for (const key of ['d/1', 'd/2', 'd/3/x', 'keep']) await store.put(key, new Uint8Array([1]));
      await store.delete('d/1');
      await store.delete('d/never-existed');
      assert.equal(await store.exists('d/1'), false);
      await store.deleteMany(['d/2', 'd/3/x', 'd/missing']);
      assert.deepEqual(
        (await store.list('')).map((o) => o.key),
        ['keep'],
      );
    });

    it('rejects keys that would mean different things on a disk and in S3', async () => {
      const store = await makeStore();
      for (const key of ['', '/abs', 'a//b', '../up', 'a/./b', 'trailing/', 'back\\slash', '.tmp/x']) {
        await assert.rejects(
          store.put(key, new Uint8Array([1])),
          /invalid object key/,
          `key ${JSON.stringify(key)}`,
        );
      }
    });

    it('checkpoints: the newest verified one wins; a flipped byte falls back with the reason', async () => {
      const store = await makeStore();
      const weights = (step: number) => new Uint8Array(1000).fill(step);
      for (const step of [1, 2, 3]) {
        await writeCheckpoint(store, {
          runId: 'run-1',
          step,
          configHash: 'cfg',
          dataCursor: { epoch: 0, index: step * 8 },
          rng: { seed: 7, counter: step },
          metrics: { reward: step / 10 },
          objects: [
            { name: 'weights/model.safetensors', bytes: weights(step) },
            { name: 'optimizer/state.safetensors', bytes: new Uint8Array(2000).fill(100 + step) },
          ],
        });
      }
      assert.equal((await latestVerifiedCheckpoint(store, 'run-1')).manifest?.step, 3);

      const key = checkpointKey('run-1', 3, 'optimizer/state.safetensors');
      const bytes = await store.get(key);
      bytes[1234]! ^= 0x01;
      await store.put(key, bytes);
      const latest = await latestVerifiedCheckpoint(store, 'run-1');
      assert.equal(latest.manifest?.step, 2);
      assert.equal(latest.rejected.length, 1);
      assert.equal(latest.rejected[0]!.step, 3);
      assert.match(
        latest.rejected[0]!.reason,
        /optimizer\/state\.safetensors has sha256 [0-9a-f]{64}, the manifest says/,
      );
      assert.deepEqual(latest.manifest?.dataCursor, { epoch: 0, index: 16 });

      const dir = join(await scratch, `${name}-restore`);
      await restoreCheckpointObjects(store, latest.manifest!, 'weights/', dir);
      assert.deepEqual(new Uint8Array(await readFile(join(dir, 'model.safetensors'))), weights(2));
    });

    it('retention keeps the newest verified checkpoint whole and prunes the rest by policy', async () => {
      const store = await makeStore();
      for (let step = 1; step <= 6; step++) {
        await writeCheckpoint(store, {
          runId: 'ret',
          step,
          configHash: 'cfg',
          dataCursor: step,
          rng: step,
          metrics: {},
          objects: [
            { name: 'weights/model.safetensors', bytes: new Uint8Array([step]) },
            { name: 'optimizer/state.safetensors', bytes: new Uint8Array([step, step]) },
          ],
        });
      }
      const plan = await applyRetention(store, 'ret', { keepLastOptimizerStates: 2, keepWeightsEvery: 2 });
      assert.deepEqual(
        { keep: plan.keep, pruneOptimizer: plan.pruneOptimizer, delete: plan.delete },
        { keep: [5, 6], pruneOptimizer: [2, 4], delete: [1, 3] },
      );
      const names = (await store.list('runs/ret/')).map((o) => o.key.slice('runs/ret/steps/'.length));
      assert.deepEqual(names, [
        '000002/manifest.json',
        '000002/weights/model.safetensors',
        '000004/manifest.json',
        '000004/weights/model.safetensors',
        '000005/manifest.json',
        '000005/optimizer/state.safetensors',
        '000005/weights/model.safetensors',
        '000006/manifest.json',
        '000006/optimizer/state.safetensors',
        '000006/weights/model.safetensors',
      ]);
      // Pruned checkpoints still verify for evaluation, but training never resumes from them.
      const forEval = await latestVerifiedCheckpoint(store, 'ret', { allowPruned: true, atOrBelowStep: 4 });
      assert.equal(forEval.manifest?.step, 4);
      assert.deepEqual(forEval.manifest?.prunedGroups, ['optimizer']);
      const forResume = await latestVerifiedCheckpoint(store, 'ret', { atOrBelowStep: 4 });
      assert.equal(forResume.manifest, undefined);
    });
  });
}
