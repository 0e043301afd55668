import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
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
import { keyProblem, ObjectNotFoundError, type ObjectStore } from './objectStore.ts';

/** One object to save: bytes in memory or a file on disk, under `name` (e.g. `weights/model.safetensors`). */
export type CheckpointObjectSource = { name: string; bytes: Uint8Array } | { name: string; file: string };

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
    } else {
      // Hashed in the pass that uploads it: the sha256 is of exactly the bytes stored.
      const { size, sha256 } = await store.putStream(key, source.file);
      listed.push({ name: source.name, size, sha256 });
    }
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

/** Reads and checks the manifest, then every object's size and sha256. Returns the manifest or the first problem. */
export async function verifyCheckpoint(
  store: ObjectStore,
  runId: string,
  step: number,
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
