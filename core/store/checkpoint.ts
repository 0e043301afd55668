import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { hashingStream, sha256OfStream } from './hashing.ts';
import {
  checkpointKey,
  manifestKey,
  MANIFEST_NAME,
  parseCheckpointKey,
  stepsPrefix,
  assertStep,
  assertRunId,
} from './keys.ts';
import {
  MANIFEST_FORMAT,
  decodeManifest,
  encodeManifest,
  sha256Hex,
  signManifest,
  type CheckpointManifest,
  type JsonValue,
  type ManifestObject,
} from './manifest.ts';
import { keyProblem, ObjectNotFoundError, type ObjectStore, type StoredObject } from './objectStore.ts';

/**
 * One object to save under `name` (e.g. `weights/model.safetensors`): bytes in memory, a file on disk, or
 * a stream of known size made on demand (a trainer's state serialized from memory as it uploads).
 */
export type CheckpointObjectSource =
  { name: string; bytes: Uint8Array } | { name: string; file: string } | StreamedObjectSource;

export interface StreamedObjectSource {
  name: string;
  size: number;
  open(): Readable;
}

/**
 * Streams one non-bytes source into the store under `key`, hashed in the pass that uploads it (the sha256
 * is of exactly the bytes stored). A streamed source that yields other than its declared size is a bug
 * in its maker, refused rather than recorded; a source that fails is reported as itself, not as the
 * upload it broke off.
 */
export async function putObjectSource(
  store: ObjectStore,
  key: string,
  source: Exclude<CheckpointObjectSource, { bytes: Uint8Array }>,
): Promise<ManifestObject> {
  if ('file' in source) {
    const { size, sha256 } = await store.putStream(key, source.file);
    return { name: source.name, size, sha256 };
  }
  const stream = source.open();
  // The source's own failure (a tensor it could not read) is the error, not the upload it broke off.
  let sourceError: unknown;
  stream.once('error', (error) => (sourceError ??= error));
  let stored: StoredObject;
  try {
    stored = await store.putStream(key, { stream, size: source.size });
  } catch (error) {
    throw sourceError ?? error;
  }
  const { size, sha256 } = stored;
  if (size !== source.size) {
    throw new Error(`${source.name}: streamed ${size} bytes where ${source.size} were declared`);
  }
  return { name: source.name, size, sha256 };
}

/** Writes each source below `dir` as `<dir>/<name>` (a test's or a tool's view of what would be stored). */
export async function writeObjectSources(
  dir: string,
  sources: readonly CheckpointObjectSource[],
): Promise<void> {
  for (const source of sources) {
    const target = join(dir, ...source.name.split('/'));
    await mkdir(dirname(target), { recursive: true });
    if ('bytes' in source) await writeFile(target, source.bytes);
    else if ('file' in source) await copyFile(source.file, target);
    else await pipeline(source.open(), createWriteStream(target));
  }
}

export interface CheckpointInput {
  runId: string;
  step: number;
  configHash: string;
  dataCursor: JsonValue;
  rng: JsonValue;
  metrics: Record<string, number>;
  objects: CheckpointObjectSource[];
  extra?: JsonValue;
}

export interface RejectedCheckpoint {
  step: number;
  reason: string;
}

export interface LatestCheckpoint {
  /** The newest checkpoint that verified, or undefined when none did. */
  manifest: CheckpointManifest | undefined;
  /** Newer checkpoints that did not verify, newest first, each with why. */
  rejected: RejectedCheckpoint[];
}

/** Every file below `dir` as a checkpoint object named `<group>/<relative path>`, sorted by name. */
export async function objectsFromDirectory(dir: string, group: string): Promise<CheckpointObjectSource[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => {
      const file = join(e.parentPath, e.name);
      return { name: `${group}/${relative(dir, file).split(sep).join('/')}`, file };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function assertObjectNames(objects: readonly CheckpointObjectSource[]): void {
  const seen = new Set<string>();
  for (const { name } of objects) {
    const problem = keyProblem(name);
    if (problem !== undefined) throw new Error(`checkpoint object name ${JSON.stringify(name)}: ${problem}`);
    if (name === MANIFEST_NAME)
      throw new Error(`checkpoint object name ${MANIFEST_NAME} is reserved for the manifest`);
    if (seen.has(name)) throw new Error(`checkpoint object name ${name} appears twice`);
    seen.add(name);
  }
}

/**
 * Uploads every object, then the manifest LAST: until the manifest exists the checkpoint does not count.
 * Rewriting the same step with the same bytes (a retried activity) is harmless.
 */
export async function writeCheckpoint(
  store: ObjectStore,
  input: CheckpointInput,
): Promise<CheckpointManifest> {
  assertRunId(input.runId);
  assertStep(input.step);
  assertObjectNames(input.objects);
  const listed: ManifestObject[] = [];
  for (const source of input.objects) {
    const key = checkpointKey(input.runId, input.step, source.name);
    if ('bytes' in source) {
      await store.put(key, source.bytes);
      listed.push({ name: source.name, size: source.bytes.byteLength, sha256: sha256Hex(source.bytes) });
    } else listed.push(await putObjectSource(store, key, source));
  }
  const manifest = signManifest({
    format: MANIFEST_FORMAT,
    runId: input.runId,
    step: input.step,
    configHash: input.configHash,
    dataCursor: input.dataCursor,
    rng: input.rng,
    metrics: input.metrics,
    objects: listed,
    prunedGroups: [],
    ...(input.extra !== undefined ? { extra: input.extra } : {}),
  });
  await store.put(manifestKey(input.runId, input.step), encodeManifest(manifest));
  return manifest;
}

/**
 * Reads and checks the manifest, then every object's size and sha256 (with `contents: false`, sizes only:
 * for a reader that checks each object's sha256 as it streams it anyway, so nothing is downloaded twice).
 * Returns the manifest or the first problem.
 */
export async function verifyCheckpoint(
  store: ObjectStore,
  runId: string,
  step: number,
  options: { contents?: boolean } = {},
): Promise<{ manifest: CheckpointManifest } | { problem: string }> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(manifestKey(runId, step));
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return { problem: 'manifest.json is missing' };
    throw error;
  }
  const decoded = decodeManifest(bytes, { runId, step });
  if ('problem' in decoded) return decoded;
  for (const object of decoded.manifest.objects) {
    const key = checkpointKey(runId, step, object.name);
    // A size check first is one HEAD request and catches truncated or missing objects without a download.
    const head = await store.head(key);
    if (!head) return { problem: `${object.name} is missing` };
    if (head.size !== object.size) {
      return { problem: `${object.name} has ${head.size} bytes, the manifest says ${object.size}` };
    }
    if (options.contents === false) continue;
    const actual = await sha256OfStream(await store.getStream(key));
    if (actual.sha256 !== object.sha256) {
      return { problem: `${object.name} has sha256 ${actual.sha256}, the manifest says ${object.sha256}` };
    }
  }
  return decoded;
}

export interface StoredSteps {
  /** Steps that have a manifest.json, ascending. */
  withManifest: number[];
  /** Steps with objects but no manifest (being written, or left by a crash), ascending. */
  withoutManifest: number[];
}

export async function listCheckpointSteps(store: ObjectStore, runId: string): Promise<StoredSteps> {
  const all = new Set<number>();
  const manifests = new Set<number>();
  for (const { key } of await store.list(stepsPrefix(runId))) {
    const parsed = parseCheckpointKey(runId, key);
    if (!parsed) continue;
    all.add(parsed.step);
    if (parsed.name === MANIFEST_NAME) manifests.add(parsed.step);
  }
  const ascending = (a: number, b: number) => a - b;
  return {
    withManifest: [...manifests].sort(ascending),
    withoutManifest: [...all].filter((s) => !manifests.has(s)).sort(ascending),
  };
}

/**
 * The newest checkpoint of `runId` whose manifest and every object verify. Newer ones that fail are
 * reported with their reason. Pruned checkpoints (weights only) are skipped unless `allowPruned`, because
 * training cannot resume from them; evaluation can.
 */
export async function latestVerifiedCheckpoint(
  store: ObjectStore,
  runId: string,
  options: { allowPruned?: boolean; atOrBelowStep?: number } = {},
): Promise<LatestCheckpoint> {
  const { withManifest } = await listCheckpointSteps(store, runId);
  const rejected: RejectedCheckpoint[] = [];
  for (const step of withManifest.reverse()) {
    if (options.atOrBelowStep !== undefined && step > options.atOrBelowStep) continue;
    const result = await verifyCheckpoint(store, runId, step);
    if ('problem' in result) {
      rejected.push({ step, reason: result.problem });
      continue;
    }
    if (!options.allowPruned && result.manifest.prunedGroups.length > 0) {
      rejected.push({ step, reason: `pruned by retention (no ${result.manifest.prunedGroups.join(', ')})` });
      continue;
    }
    return { manifest: result.manifest, rejected };
  }
  return { manifest: undefined, rejected };
}

/**
 * Downloads the checkpoint's objects whose name starts with `namePrefix` (e.g. `weights/`) into `dir`,
 * dropping that prefix, and checks each sha256 while it streams: a mismatch leaves no file behind.
 */
export async function restoreCheckpointObjects(
  store: ObjectStore,
  manifest: CheckpointManifest,
  namePrefix: string,
  dir: string,
): Promise<string[]> {
  const written: string[] = [];
  for (const object of manifest.objects.filter((o) => o.name.startsWith(namePrefix))) {
    const target = join(dir, ...object.name.slice(namePrefix.length).split('/'));
    const temp = `${target}.tmp-${process.pid}`;
    await mkdir(dirname(target), { recursive: true });
    const hashing = hashingStream();
    const key = checkpointKey(manifest.runId, manifest.step, object.name);
    try {
      await pipeline(await store.getStream(key), hashing.stream, createWriteStream(temp));
      const actual = hashing.digest().sha256;
      if (actual !== object.sha256) {
        throw new Error(`${store.location}: ${key} has sha256 ${actual}, the manifest says ${object.sha256}`);
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    written.push(target);
  }
  return written;
}

/**
 * A checkpoint object's bytes as they stream from the store, checked against the manifest when the
 * stream ends: a size or sha256 other than the manifest's is an error from the last read, so a reader that
 * consumes the stream to its end never keeps unverified bytes, and nothing touches the local disk.
 */
export async function* verifiedObjectStream(
  store: ObjectStore,
  manifest: CheckpointManifest,
  object: ManifestObject,
): AsyncGenerator<Uint8Array> {
  const key = checkpointKey(manifest.runId, manifest.step, object.name);
  const stream = await store.getStream(key);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.byteLength;
      yield chunk;
    }
  } finally {
    stream.destroy();
  }
  const sha256 = hash.digest('hex');
  if (size !== object.size || sha256 !== object.sha256) {
    throw new Error(
      `${store.location}: ${key} has ${size} bytes and sha256 ${sha256}, the manifest says ${object.size} and ${object.sha256}`,
    );
  }
}
