/**
 * The trainer's state as checkpoint files: the policy as an HF model directory (`weights/`, loadable by
 * transformers) and AdamW's moments with the step count as safetensors (`optimizer/state.safetensors`, or
 * shards `state-0000i-of-0000n.safetensors` with `state.safetensors.index.json` above the shard size).
 * Both are float32 written byte for byte, so a state read back is bit-identical to the one written. Files
 * are written and read one tensor at a time and streamed to and from the store, so no step handles a
 * whole file in one buffer (AdamW's moments alone are 8 bytes per parameter: 3.95 GB for 494M).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostTensor, OptimizerState } from '../core/graph/index.ts';
import type { Qwen2Config } from '../core/model/config.ts';
import { loadModelDir, writeModelDir, writeModelDirFrom, type QwenModelDir } from '../core/model/modelDir.ts';
import { elementCount, qwen2Parameters } from '../core/model/parameters.ts';
import { readSafetensorsHeader } from '../core/model/safetensors.ts';
import {
  DEFAULT_MAX_SHARD_SIZE,
  readShardedSafetensors,
  safetensorsFiles,
  writeShardedSafetensors,
} from '../core/model/safetensorsShards.ts';
import {
  checkpointKey,
  objectsFromDirectory,
  OPTIMIZER_GROUP,
  WEIGHTS_GROUP,
  type CheckpointManifest,
  type CheckpointObjectSource,
  type ObjectStore,
} from '../core/store/index.ts';
import { FAILURE, permanent } from './failures.ts';
import { withRestored } from './runtime.ts';
import { loraParameters, type LoraSpec } from '../core/model/lora.ts';
import {
  ADAPTER_GROUP,
  loraInitialState,
  readAdapterGroup,
  writeAdapterGroup,
  type LoraStateFiles,
} from './loraState.ts';
import type { StoredObject } from './types.ts';

/** Optimizer files are `state.safetensors`, or `state-0000i-of-0000n.safetensors` with an index. */
const OPTIMIZER_STEM = 'state';
/** Safetensors metadata key holding AdamW's step count (t), in every optimizer file. */
const STEP_METADATA = 'reasonloop.optimizer_step';

export interface StateFileOptions {
  /** As `save_pretrained`'s max_shard_size, for weights and optimizer alike (default "5GB"). */
  maxShardSize?: string | number;
}

/** Step 0's state of `weights` (moments zero); `zeroMoments` false leaves m and v empty for a reader to fill. */
export function stateFromWeights(
  config: Qwen2Config,
  weights: Map<string, Float32Array>,
  zeroMoments = true,
): OptimizerState {
  const params: Record<string, HostTensor> = {};
  const m: Record<string, HostTensor> = {};
  const v: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(config)) {
    const data = weights.get(p.name);
    if (!data) throw new Error(`weights lack tensor ${p.name}`);
    params[p.name] = { data, dims: [...p.shape] };
    if (!zeroMoments) continue;
    m[p.name] = { data: new Float32Array(data.length), dims: [...p.shape] };
    v[p.name] = { data: new Float32Array(data.length), dims: [...p.shape] };
  }
  return { step: 0, params, m, v };
}

export function weightsOf(state: OptimizerState): Map<string, Float32Array> {
  return new Map(Object.entries(state.params).map(([k, t]) => [k, t.data as Float32Array]));
}

/** The trained tensors, in the order their moments are written: the model's, or the adapters' with LoRA. */
function trainedTensors(config: Qwen2Config, lora?: LoraSpec): { name: string; shape: number[] }[] {
  return lora ? loraParameters(config, lora) : qwen2Parameters(config);
}

function writeOptimizerFiles(
  dir: string,
  config: Qwen2Config,
  state: OptimizerState,
  options: StateFileOptions,
  lora?: LoraSpec,
): void {
  writeMomentFiles(
    dir,
    config,
    state.step,
    (kind, name) => state[kind][name].data as Float32Array,
    options,
    lora,
  );
}

/** AdamW's moments m and v, interleaved per tensor in parameter order, with the step count in the metadata. */
function writeMomentFiles(
  dir: string,
  config: Qwen2Config,
  step: number,
  moment: (kind: 'm' | 'v', name: string) => Float32Array,
  options: StateFileOptions,
  lora?: LoraSpec,
): void {
  const tensors = trainedTensors(config, lora).flatMap((p) =>
    (['m', 'v'] as const).map((kind) => ({
      name: `${kind}.${p.name}`,
      shape: p.shape,
      read: () => moment(kind, p.name),
    })),
  );
  writeShardedSafetensors(dir, tensors, {
    stem: OPTIMIZER_STEM,
    maxShardSize: options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE,
    metadata: { [STEP_METADATA]: String(step) },
  });
}

/**
 * Step 0's files of a full-parameter run, written from `read` one tensor at a time with zero moments:
 * byte for byte what withStateFiles writes for stateFromWeights, without the model (4 bytes per
 * parameter) or its moments (8 more) ever in memory. `read`'s failures propagate unwrapped: they are the
 * source's (a wrong model directory), for the caller to name.
 */
export async function withInitialStateFiles<T>(
  base: Omit<QwenModelDir, 'weights'>,
  read: (name: string) => Float32Array,
  use: (objects: CheckpointObjectSource[]) => Promise<T>,
  options: StateFileOptions = {},
): Promise<T> {
  return inStateDir(WEIGHTS_GROUP, use, async (dir) => {
    writeModelDirFrom(join(dir, WEIGHTS_GROUP), base, read, options);
    await mkdir(join(dir, OPTIMIZER_GROUP), { recursive: true });
    // One zero buffer of the largest tensor's size, viewed per tensor: nothing is allocated per moment.
    const sizes = new Map(qwen2Parameters(base.config).map((p) => [p.name, elementCount(p.shape)]));
    const zeros = new Float32Array(Math.max(...sizes.values()));
    writeMomentFiles(
      join(dir, OPTIMIZER_GROUP),
      base.config,
      0,
      (_kind, name) => zeros.subarray(0, sizes.get(name)!),
      options,
    );
  });
}

/** A temp dir that `write` fills with `policyGroup/` and `optimizer/`, handed to `use` as checkpoint sources. */
async function inStateDir<T>(
  policyGroup: string,
  use: (objects: CheckpointObjectSource[]) => Promise<T>,
  write: (dir: string) => Promise<void>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'reasonloop-state-'));
  try {
    await write(dir);
    const objects = [
      ...(await objectsFromDirectory(join(dir, policyGroup), policyGroup)),
      ...(await objectsFromDirectory(join(dir, OPTIMIZER_GROUP), OPTIMIZER_GROUP)),
    ];
    return await use(objects);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Writes the state's files into a temp dir and hands their checkpoint sources to `use`; `base` supplies
 * the tokenizer and generation config of the model directory. With `lora` the state is the adapters':
 * they go to `adapter/` (loraState.ts) instead of `weights/`.
 */
export async function withStateFiles<T>(
  base: Omit<QwenModelDir, 'weights'>,
  state: OptimizerState,
  use: (objects: CheckpointObjectSource[]) => Promise<T>,
  options: StateFileOptions = {},
  lora?: LoraStateFiles,
): Promise<T> {
  return inStateDir(lora ? ADAPTER_GROUP : WEIGHTS_GROUP, use, async (dir) => {
    try {
      if (lora) writeAdapterGroup(dir, base.config, state, lora);
      else writeModelDir(join(dir, WEIGHTS_GROUP), { ...base, weights: weightsOf(state) }, options);
      await mkdir(join(dir, OPTIMIZER_GROUP), { recursive: true });
      writeOptimizerFiles(join(dir, OPTIMIZER_GROUP), base.config, state, options, lora?.spec);
    } catch (error) {
      throw unfixable(`writing the trainer state after optimizer step ${state.step}`, error);
    }
  });
}

/** Streams state files into the store under a step's checkpoint prefix, each hashed as it uploads. */
export async function storeStateFiles(
  store: ObjectStore,
  runId: string,
  step: number,
  sources: readonly CheckpointObjectSource[],
): Promise<StoredObject[]> {
  const stored: StoredObject[] = [];
  for (const source of sources) {
    if (!('file' in source)) throw new Error(`trainer state object ${source.name} is not a file`);
    const { size, sha256 } = await store.putStream(checkpointKey(runId, step, source.name), source.file);
    stored.push({ name: source.name, size, sha256 });
  }
  return stored;
}

/** With LoRA, the state is read against the run's base model: its architecture files and the spec. */
export interface LoraStateRead {
  base: Omit<QwenModelDir, 'weights'>;
  spec: LoraSpec;
}

/**
 * Reads a state back from a directory holding `weights/` (or with LoRA `adapter/`) and `optimizer/` as
 * written above. A LoRA state's `model.weights` is empty: the base weights are the run's, loaded apart.
 */
export function readStateDir(
  dir: string,
  lora?: LoraStateRead,
): { model: QwenModelDir; state: OptimizerState } {
  let model: QwenModelDir;
  let state: OptimizerState;
  if (lora) {
    const { adapters } = readAdapterGroup(join(dir, ADAPTER_GROUP), lora.base.config, lora.spec);
    model = { ...lora.base, weights: new Map() };
    state = loraInitialState(lora.base.config, lora.spec, adapters);
  } else {
    model = loadModelDir(join(dir, WEIGHTS_GROUP));
    // The moments are read below: zeros first would be a second 8 bytes per parameter for a moment.
    state = stateFromWeights(model.config, model.weights, false);
  }
  const optimizerDir = join(dir, OPTIMIZER_GROUP);
  const first = [...safetensorsFiles(optimizerDir, OPTIMIZER_STEM).keys()][0]!;
  const step = Number(readSafetensorsHeader(join(optimizerDir, first)).metadata[STEP_METADATA]);
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new Error(`${join(optimizerDir, first)}: no valid ${STEP_METADATA} metadata`);
  }
  const specs = trainedTensors(model.config, lora?.spec);
  const shapes = new Map(specs.flatMap((p) => [`m.${p.name}`, `v.${p.name}`].map((n) => [n, p.shape])));
  const moments = readShardedSafetensors(optimizerDir, OPTIMIZER_STEM, shapes);
  for (const p of specs) {
    const m = moments.get(`m.${p.name}`);
    const v = moments.get(`v.${p.name}`);
    if (!m || !v) throw new Error(`${optimizerDir}: tensor m.${p.name} or v.${p.name} is missing`);
    state.m[p.name] = { data: m, dims: [...p.shape] };
    state.v[p.name] = { data: v, dims: [...p.shape] };
  }
  state.step = step;
  return { model, state };
}

/** The trainer state of a verified checkpoint, downloaded (sha256-checked) and read tensor by tensor. */
export async function readCheckpointState(
  store: ObjectStore,
  manifest: CheckpointManifest,
  lora?: LoraStateRead,
): Promise<{ model: QwenModelDir; state: OptimizerState }> {
  return withRestored(store, manifest, '', (dir) => {
    try {
      return readStateDir(dir, lora);
    } catch (error) {
      throw unfixable(`checkpoint ${manifest.step} of run ${manifest.runId} in ${store.location}`, error);
    }
  });
}

/**
 * A failure that a retry cannot fix becomes a non-retryable one naming what was being read or written.
 * Files reach these readers and writers verified (sha256) or freshly made from memory, so any error but
 * an operating-system one (disk full, I/O error: it has an errno code) recurs on every attempt: a shape
 * mismatch, a malformed file, a model too large to allocate.
 */
function unfixable(what: string, error: unknown): unknown {
  if (!(error instanceof Error) || typeof (error as NodeJS.ErrnoException).code === 'string') return error;
  return permanent(FAILURE.state, `${what}: ${error.message}`);
}
