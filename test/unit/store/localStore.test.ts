import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { LocalFolderStore } from '../../../core/store/index.ts';
import { objectStoreContract } from './objectStoreContract.ts';

const roots: string[] = [];
after(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

async function freshStore(): Promise<LocalFolderStore> {
  const root = await mkdtemp(join(tmpdir(), 'reasonloop-local-store-'));
  roots.push(root);
  return new LocalFolderStore(root);
}

objectStoreContract('local folder', freshStore);

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
