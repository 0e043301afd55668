/**
 * The trainer's state as checkpoint files: the policy as an HF model directory (`weights/`, loadable by
 * transformers) and AdamW's moments with the step count as safetensors (`optimizer/state.safetensors`, or
 * shards `state-0000i-of-0000n.safetensors` with `state.safetensors.index.json` above the shard size).
 * Both are float32 written byte for byte, so a state read back is bit-identical to the one written. The
 * files stream between the state's arrays and the store, one tensor at a time: no step handles a whole
 * file in one buffer (AdamW's moments alone are 8 bytes per parameter: 3.95 GB for 494M) or writes one to
 * the local disk (for 494M that was a 5.9 GB write and read per step).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostTensor, OptimizerState } from '../core/graph/index.ts';
import type { Qwen2Config } from '../core/model/config.ts';
import {
  collectWeights,
  loadModelDirFiles,
  streamedModelDir,
  weightReadOptions,
  WEIGHTS_STEM,
  type QwenModelDir,
} from '../core/model/modelDir.ts';
import { elementCount, qwen2Parameters } from '../core/model/parameters.ts';
import {
  collectShards,
  DEFAULT_MAX_SHARD_SIZE,
  shardedSafetensorsFiles,
} from '../core/model/safetensorsShards.ts';
import type { StreamedFile } from '../core/model/safetensorsStream.ts';
import {
  checkpointKey,
  objectsFromDirectory,
  OPTIMIZER_GROUP,
  putObjectSource,
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
import { isStoreError, restoredPart, streamShards } from './streamedCheckpoint.ts';
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

/** AdamW's moments m and v, interleaved per tensor in parameter order, with the step count in the metadata. */
function momentFiles(
  config: Qwen2Config,
  step: number,
  moment: (kind: 'm' | 'v', name: string) => Float32Array,
  options: StateFileOptions,
  lora?: LoraSpec,
): CheckpointObjectSource[] {
  const tensors = trainedTensors(config, lora).flatMap((p) =>
    (['m', 'v'] as const).map((kind) => ({
      name: `${kind}.${p.name}`,
      shape: p.shape,
      read: () => moment(kind, p.name),
    })),
  );
  const files = shardedSafetensorsFiles(tensors, {
    stem: OPTIMIZER_STEM,
    maxShardSize: options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE,
    metadata: { [STEP_METADATA]: String(step) },
  });
  return inGroup(OPTIMIZER_GROUP, files);
}

/** Files made on demand as checkpoint sources named `<group>/<file>`. */
function inGroup(group: string, files: readonly StreamedFile[]): CheckpointObjectSource[] {
  return files.map((f) => ({ name: `${group}/${f.file}`, size: f.size, open: () => f.open() }));
}

/**
 * Step 0's files of a full-parameter run, made from `read` one tensor at a time with zero moments as they
 * upload: byte for byte what withStateFiles makes for stateFromWeights, without the model (4 bytes per
 * parameter) or its moments (8 more) ever in memory. `read`'s failures propagate unwrapped: they are the
 * source's (a wrong model directory), for the caller to name.
 */
export async function withInitialStateFiles<T>(
  base: Omit<QwenModelDir, 'weights'>,
  read: (name: string) => Float32Array,
  use: (objects: CheckpointObjectSource[]) => Promise<T>,
  options: StateFileOptions = {},
): Promise<T> {
  // One zero buffer of the largest tensor's size, viewed per tensor: nothing is allocated per moment.
  const sizes = new Map(qwen2Parameters(base.config).map((p) => [p.name, elementCount(p.shape)]));
  const zeros = new Float32Array(Math.max(...sizes.values()));
  return use([
    ...inGroup(WEIGHTS_GROUP, streamedModelDir(base, read, options)),
    ...momentFiles(base.config, 0, (_kind, name) => zeros.subarray(0, sizes.get(name)!), options),
  ]);
}

/**
 * The state's checkpoint sources, handed to `use`: the weights as an HF model directory (`base` supplies
 * its tokenizer and generation config) and the moments, each file serialized from the state's arrays as
 * it uploads, so nothing reaches the local disk. With `lora` the state is the adapters': they go to
 * `adapter/` (loraState.ts), a few MB written through a temp dir, instead of `weights/`. The state is
 * checked whole before the first byte goes out: a missing or misshapen tensor fails here, named, and not
 * halfway through an upload.
 */
export async function withStateFiles<T>(
  base: Omit<QwenModelDir, 'weights'>,
  state: OptimizerState,
  use: (objects: CheckpointObjectSource[]) => Promise<T>,
  options: StateFileOptions = {},
  lora?: LoraStateFiles,
): Promise<T> {
  try {
    checkStateTensors(base.config, state, lora?.spec);
  } catch (error) {
    throw unfixable(`writing the trainer state after optimizer step ${state.step}`, error);
  }
  const tensor = (kind: 'params' | 'm' | 'v', name: string) => state[kind][name]!.data as Float32Array;
  const moments = momentFiles(
    base.config,
    state.step,
    (kind, name) => tensor(kind, name),
    options,
    lora?.spec,
  );
  if (!lora) {
    const weights = streamedModelDir(base, (name) => tensor('params', name), options);
    return use([...inGroup(WEIGHTS_GROUP, weights), ...moments]);
  }
  const dir = await mkdtemp(join(tmpdir(), 'reasonloop-adapter-'));
  try {
    writeAdapterGroup(dir, base.config, state, lora);
    return await use([...(await objectsFromDirectory(join(dir, ADAPTER_GROUP), ADAPTER_GROUP)), ...moments]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every trained tensor's parameter and moments present as float32 of its shape's size. */
function checkStateTensors(config: Qwen2Config, state: OptimizerState, lora?: LoraSpec): void {
  for (const p of trainedTensors(config, lora)) {
    for (const kind of ['params', 'm', 'v'] as const) {
      const data = state[kind][p.name]?.data;
      if (!(data instanceof Float32Array)) throw new Error(`the state's ${kind} lack tensor ${p.name}`);
      if (data.length !== elementCount(p.shape)) {
        throw new Error(
          `the state's ${kind} tensor ${p.name} has ${data.length} values but shape [${p.shape}]`,
        );
      }
    }
  }
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
    if ('bytes' in source) throw new Error(`trainer state object ${source.name} is not streamed`);
    stored.push(await putObjectSource(store, checkpointKey(runId, step, source.name), source));
  }
  return stored;
}

/** With LoRA, the state is read against the run's base model: its architecture files and the spec. */
export interface LoraStateRead {
  base: Omit<QwenModelDir, 'weights'>;
  spec: LoraSpec;
}

/** The groups whose safetensors stream between the store and memory (streamedCheckpoint.ts). */
const STREAMED_GROUPS = [WEIGHTS_GROUP, OPTIMIZER_GROUP];

/**
 * The trainer state of a verified checkpoint: the small files (configs, an index, LoRA's adapter
 * directory) restored into a temp dir, the weights and moments streamed from the store straight into
 * their arrays, each object's sha256 checked as it arrives. A LoRA state's `model.weights` is empty: the
 * base weights are the run's, loaded apart. A malformed state is a non-retryable failure naming the
 * checkpoint; the store's own failures stay retryable.
 */
export async function readCheckpointState(
  store: ObjectStore,
  manifest: CheckpointManifest,
  lora?: LoraStateRead,
): Promise<{ model: QwenModelDir; state: OptimizerState }> {
  const what = `checkpoint ${manifest.step} of run ${manifest.runId} in ${store.location}`;
  return withRestored(store, restoredPart(manifest, STREAMED_GROUPS), '', async (dir) => {
    try {
      return await readState(store, manifest, dir, lora);
    } catch (error) {
      throw isStoreError(error) ? error : unfixable(what, error);
    }
  });
}

async function readState(
  store: ObjectStore,
  manifest: CheckpointManifest,
  dir: string,
  lora?: LoraStateRead,
): Promise<{ model: QwenModelDir; state: OptimizerState }> {
  let model: QwenModelDir;
  let state: OptimizerState;
  if (lora) {
    const { adapters } = readAdapterGroup(join(dir, ADAPTER_GROUP), lora.base.config, lora.spec);
    model = { ...lora.base, weights: new Map() };
    state = loraInitialState(lora.base.config, lora.spec, adapters);
  } else {
    const weightsDir = join(dir, WEIGHTS_GROUP);
    const files = loadModelDirFiles(weightsDir);
    const shards = await streamShards(store, manifest, weightsDir, WEIGHTS_GROUP, WEIGHTS_STEM, (file) =>
      weightReadOptions(files.config, file),
    );
    model = { ...files, weights: collectWeights(files.config, shards, (file) => `${WEIGHTS_GROUP}/${file}`) };
    // The moments are read below: zeros first would be a second 8 bytes per parameter for a moment.
    state = stateFromWeights(model.config, model.weights, false);
  }
  const specs = trainedTensors(model.config, lora?.spec);
  const shapes = new Map(specs.flatMap((p) => [`m.${p.name}`, `v.${p.name}`].map((n) => [n, p.shape])));
  const shards = await streamShards(
    store,
    manifest,
    join(dir, OPTIMIZER_GROUP),
    OPTIMIZER_GROUP,
    OPTIMIZER_STEM,
    () => ({
      expectedShapes: shapes,
    }),
  );
  const step = Number(shards[0]?.metadata[STEP_METADATA]);
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new Error(`${OPTIMIZER_GROUP}/${shards[0]?.file}: no valid ${STEP_METADATA} metadata`);
  }
  const moments = collectShards(shards, OPTIMIZER_STEM);
  for (const p of specs) {
    const m = moments.get(`m.${p.name}`);
    const v = moments.get(`v.${p.name}`);
    if (!m || !v) throw new Error(`${OPTIMIZER_GROUP}: tensor m.${p.name} or v.${p.name} is missing`);
    state.m[p.name] = { data: m, dims: [...p.shape] };
    state.v[p.name] = { data: v, dims: [...p.shape] };
  }
  state.step = step;
  return { model, state };
}

/**
 * A failure that a retry cannot fix becomes a non-retryable one naming what was being read or written.
 * Bytes reach these readers verified (sha256) and writers freshly made from memory, so any error but an
 * operating-system or a store one (disk full, I/O error: it has an errno code; a failed read, marked by
 * streamedCheckpoint.ts) recurs on every attempt: a shape mismatch, a malformed file, a model too large to
 * allocate.
 */
function unfixable(what: string, error: unknown): unknown {
  if (!(error instanceof Error) || typeof (error as NodeJS.ErrnoException).code === 'string') return error;
  return permanent(FAILURE.state, `${what}: ${error.message}`);
}
