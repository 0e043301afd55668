/**
 * A checkpoint's safetensors read straight from the store into their arrays: each object streams through
 * its sha256 check (against the manifest) into the safetensors stream reader, so a trainer's state comes
 * back in one pass with nothing written to or read from the local disk. The small files beside them (JSON
 * configs, a shard index, a LoRA adapter directory) are restored into a folder as before.
 */
import type { ReadSafetensorsOptions } from '../core/model/safetensors.ts';
import { safetensorsFiles, shardIndexFileName, type ShardRead } from '../core/model/safetensorsShards.ts';
import { SafetensorsFormatError } from '../core/model/safetensorsHeader.ts';
import { readSafetensorsStream } from '../core/model/safetensorsStream.ts';
import { verifiedObjectStream, type CheckpointManifest, type ObjectStore } from '../core/store/index.ts';

/** A `<group>/<file>.safetensors` object directly in one of `groups`: streamed, never restored. */
export function isStreamedObject(name: string, groups: readonly string[]): boolean {
  const slash = name.indexOf('/');
  return (
    slash > 0 &&
    groups.includes(name.slice(0, slash)) &&
    !name.includes('/', slash + 1) &&
    name.endsWith('.safetensors')
  );
}

/** The manifest without the objects that stream: what is restored into a folder. */
export function restoredPart(manifest: CheckpointManifest, groups: readonly string[]): CheckpointManifest {
  return { ...manifest, objects: manifest.objects.filter((o) => !isStreamedObject(o.name, groups)) };
}

/** A shard as streamed, with its header's metadata. */
export interface StreamedShard extends ShardRead {
  metadata: Record<string, string>;
}

/**
 * Every file of `<group>/<stem>…` (one file, or the shards its index lists), streamed from the store.
 * `groupDir` is the group's restored folder, where an index (a small file) would be. Errors of the store
 * itself (a failed read, bytes other than the manifest's) come out marked (isStoreError), so a caller can
 * tell them from a malformed file.
 */
export async function streamShards(
  store: ObjectStore,
  manifest: CheckpointManifest,
  groupDir: string,
  group: string,
  stem: string,
  readOptions: (file: string) => ReadSafetensorsOptions,
): Promise<StreamedShard[]> {
  const objects = new Map(manifest.objects.map((o) => [o.name, o]));
  const files = safetensorsFiles(groupDir, stem, (file) => objects.has(`${group}/${file}`));
  const shards: StreamedShard[] = [];
  for (const [file, listed] of files) {
    const object = objects.get(`${group}/${file}`);
    if (!object) {
      throw new SafetensorsFormatError(`${group}/${file}: missing (listed in ${shardIndexFileName(stem)})`);
    }
    const source = markingStoreErrors(verifiedObjectStream(store, manifest, object));
    const { header, tensors } = await readSafetensorsStream(source, file, object.size, readOptions(file));
    shards.push({ file, listed, tensors, metadata: header.metadata });
  }
  return shards;
}

const storeErrors = new WeakSet<object>();

/** True for an error that came from the store while streaming (retrying may help), not from the bytes. */
export function isStoreError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && storeErrors.has(error);
}

async function* markingStoreErrors(source: AsyncGenerator<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* source;
  } catch (error) {
    if (typeof error === 'object' && error !== null) storeErrors.add(error);
    throw error;
  }
}
