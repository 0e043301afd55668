import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, it } from 'node:test';
import { LocalFolderStore } from '../../../core/store/index.ts';
import { objectStoreContract } from './objectStoreContract.ts';

const roots: string[] = [];
after(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

async function freshStore(options: { maxGetBytes?: number } = {}): Promise<LocalFolderStore> {
  const root = await mkdtemp(join(tmpdir(), 'reasonloop-local-store-'));
  roots.push(root);
  return new LocalFolderStore(root, options);
}

objectStoreContract('local folder', freshStore);

it('local store: a failed streamed write leaves no temp file behind', async () => {
  const store = await freshStore();
  async function* failing(): AsyncGenerator<Buffer> {
    yield Buffer.alloc(1 << 20);
    throw new Error('source broke');
  }
  await assert.rejects(store.putStream('a/b', Readable.from(failing())), /source broke/);
  assert.deepEqual(await readdir(join(store.root, '.tmp')), []);
  assert.equal(await store.exists('a/b'), false);
});

it('local store: a write leaves no temp file behind and deletes remove emptied folders', async () => {
  const store = await freshStore();
  await store.put('runs/r/steps/000001/weights/model.safetensors', new Uint8Array([1, 2]));
  assert.deepEqual(await readdir(join(store.root, '.tmp')), []);
  await store.delete('runs/r/steps/000001/weights/model.safetensors');
  assert.deepEqual((await readdir(store.root)).sort(), ['.tmp']);
});

it('local store: location is a file URL of the root', async () => {
  const store = await freshStore();
  assert.equal(store.location, `file://${store.root}`);
});

it('local store: listing while keys are being deleted returns without error (as retention runs beside readers)', async () => {
  const store = await freshStore();
  const keys = Array.from(
    { length: 300 },
    (_, i) => `runs/r/steps/${String(i % 3).padStart(6, '0')}/obj-${i}`,
  );
  for (const k of keys) await store.put(k, new Uint8Array([i8(k)]));
  const deleting = store.deleteMany(keys.filter((_, i) => i % 2 === 0));
  const listings = await Promise.all([
    store.list('runs/r/'),
    store.list('runs/r/steps/'),
    deleting.then(() => store.list('runs/r/')),
  ]);
  for (const l of listings.slice(0, 2)) assert.ok(l.length >= 150 && l.length <= 300);
  assert.equal(listings[2].length, 150);
});

function i8(key: string): number {
  return key.length & 0xff;
}
