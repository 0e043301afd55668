/**
 * A checkpoint's policy where a worker samples or scores with it: the checkpoint's `weights/` streamed from
 * the store into a local folder once (each object's sha256 checked while it streams), then mapped by
 * onnxruntime as external data (core/model/weightFiles.ts) instead of being read into arrays, which the
 * decode session would copy again. Each worker role keeps one folder per weight set it holds: taking another
 * step's weights removes the folders no running activity holds first, so a role whose activities run one at
 * a time never holds two policies (a 0.5B policy is 2 GB of float32, a 1.5B one 6 GB). Folders live under the temp dir by process id; a process that finds the
 * folder of a process that no longer runs (killed mid-run) removes it.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Qwen2Config } from '../core/model/config.ts';
import type { Device } from '../core/graph/index.ts';
import type { WeightDtype } from '../core/model/weightDtype.ts';
import type { GeneratorWeights } from '../core/generate/generator.ts';
import { loadModelDirFiles, loadWeights, type QwenModelDir } from '../core/model/modelDir.ts';
import { weightRegions } from '../core/model/weightFiles.ts';
import {
  decodeManifest,
  manifestKey,
  ObjectNotFoundError,
  restoreCheckpointObjects,
  type CheckpointManifest,
  type ObjectStore,
  WEIGHTS_GROUP,
} from '../core/store/index.ts';

/** The worker roles that hold a policy: each keeps at most one weight set at a time. */
export type PolicyRole = 'sample' | 'score' | 'evaluate';

/** Where the weights go: mapped from their files (CPU, float32) or read as arrays (fed, half, GPU). */
export type WeightUse = 'mapped' | 'arrays';

/** Float32 weights on the CPU stay in their files (onnxruntime maps them); otherwise they are read. */
export function weightUse(device: Device, weightDtype: WeightDtype = 'float32'): WeightUse {
  return device.kind === 'cpu' && weightDtype === 'float32' ? 'mapped' : 'arrays';
}

/** The root of the local weight folders; REASONLOOP_WEIGHTS_DIR moves it (e.g. to a larger disk). */
export function localWeightsRoot(): string {
  return process.env.REASONLOOP_WEIGHTS_DIR ?? join(tmpdir(), 'reasonloop-weights');
}

/** A weight set of a role, and how many running activities use it. */
interface Entry {
  id: string;
  dir: Promise<string | undefined>;
  value: Promise<unknown>;
  users: number;
}
const entries = new Map<PolicyRole, Map<string, Entry>>();

/** A value an activity holds until it calls `release`; the set it belongs to is not removed before. */
export type Held<T> = T & { release(): void };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const ownFolders = new Set<string>();

/** A process that ends normally removes its folders (a killed one leaves them to sweepDeadProcesses). */
function removeOnExit(dir: string): void {
  if (ownFolders.size === 0)
    process.once('exit', () => {
      for (const d of ownFolders) rmSync(d, { recursive: true, force: true });
    });
  ownFolders.add(dir);
}

let swept = false;

/** Removes the folders of processes that are gone (a killed worker never removes its own). */
function sweepDeadProcesses(root: string): void {
  if (swept) return;
  swept = true;
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return;
  }
  for (const name of entries) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid))
      rmSync(join(root, name), { recursive: true, force: true });
  }
}

/**
 * The role's value for `id`, held until `release`. A new id first removes the role's sets no activity
 * holds (their folders go), then loads into a fresh local folder: activities that run one at a time keep
 * one set per role; activities of different runs at the same moment each keep theirs until they finish,
 * so no folder is removed under a session still compiling from it. Callers of one id share one load.
 */
export async function holdRoleSlot<T>(
  role: PolicyRole,
  id: string,
  load: (dir: string) => Promise<T>,
): Promise<{ value: T; release(): void }> {
  let held = entries.get(role);
  if (!held) entries.set(role, (held = new Map()));
  // Sets no activity holds go whenever one is asked for: once concurrent activities end, one remains.
  const idle = [...held.values()].filter((e) => e.users === 0 && e.id !== id);
  for (const e of idle) held.delete(e.id);
  const removed = removeSets(idle);
  const kept = held.get(id);
  if (kept) void removed;
  const entry = kept ?? startLoad(held, role, id, removed, load);
  // Counted before the first await, so no other caller can take this set for idle in between.
  entry.users++;
  let released = false;
  const release = () => {
    if (!released) entry.users--;
    released = true;
  };
  try {
    return { value: (await entry.value) as T, release };
  } catch (error) {
    release();
    throw error;
  }
}

/** Removes the folders of sets no activity holds, once their loads have settled; never rejects. */
async function removeSets(sets: Entry[]): Promise<void> {
  for (const e of sets) {
    await e.value.catch(() => undefined);
    const old = await e.dir;
    try {
      if (old) rmSync(old, { recursive: true, force: true });
    } catch (error) {
      // A folder that cannot go costs disk, not correctness; the next worker's sweep tries again.
      console.warn(`reasonloop: could not remove ${old}: ${(error as Error).message}`);
    }
  }
}

/** Loads a new set into a fresh folder, after the idle sets' folders are gone (`removed`). */
function startLoad<T>(
  held: Map<string, Entry>,
  role: PolicyRole,
  id: string,
  removed: Promise<void>,
  load: (dir: string) => Promise<T>,
): Entry {
  const root = localWeightsRoot();
  let resolveDir: (d: string | undefined) => void = () => undefined;
  const dir = new Promise<string | undefined>((r) => (resolveDir = r));
  const value = (async () => {
    await removed;
    mkdirSync(root, { recursive: true });
    sweepDeadProcesses(root);
    const roleDir = join(root, `${process.pid}-${role}`);
    mkdirSync(roleDir, { recursive: true });
    removeOnExit(roleDir);
    const d = await mkdtemp(join(roleDir, 'w-'));
    resolveDir(d);
    return load(d);
  })();
  const entry: Entry = { id, dir, value, users: 0 };
  value.catch(async () => {
    resolveDir(undefined);
    if (held.get(id) === entry) held.delete(id);
    const d = await dir;
    if (d) rmSync(d, { recursive: true, force: true });
  });
  held.set(id, entry);
  return entry;
}

/**
 * A checkpoint's manifest without hashing its objects (restoring them checks each sha256 while it
 * streams, so a separate verifying pass would read every weight twice). A missing or unreadable manifest is
 * retryable: the store may be catching up.
 */
export async function checkpointManifest(
  store: ObjectStore,
  runId: string,
  step: number,
): Promise<CheckpointManifest> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(manifestKey(runId, step));
  } catch (error) {
    if (error instanceof ObjectNotFoundError)
      throw new Error(`checkpoint ${step} of run ${runId} in ${store.location}: manifest.json is missing`);
    throw error;
  }
  const decoded = decodeManifest(bytes, { runId, step });
  if ('problem' in decoded)
    throw new Error(`checkpoint ${step} of run ${runId} in ${store.location}: ${decoded.problem}`);
  return decoded.manifest;
}

/**
 * The weights of the model directory `dir` as `use` asks: regions of its float32 files, or arrays when
 * they cannot be mapped (another dtype, a read-only folder) or `use` is "arrays".
 */
export function dirWeights(dir: string, config: Qwen2Config, use: WeightUse): GeneratorWeights {
  if (use === 'mapped') {
    const r = weightRegions(dir, config);
    if ('regions' in r) return r.regions;
  }
  return loadWeights(dir, config);
}

/** A policy as a worker runs it: its model files and its weights, mapped or read. */
export interface LocalPolicy {
  model: Omit<QwenModelDir, 'weights'>;
  weights: GeneratorWeights;
}

/** Streams the `weights/` group of a full-weights checkpoint into `dir` and opens it as `use` asks. */
export async function restoreWeightsGroup(
  store: ObjectStore,
  manifest: CheckpointManifest,
  dir: string,
  use: WeightUse,
): Promise<LocalPolicy> {
  await restoreCheckpointObjects(store, manifest, `${WEIGHTS_GROUP}/`, dir);
  const model = loadModelDirFiles(dir);
  return { model, weights: dirWeights(dir, model.config, use) };
}
