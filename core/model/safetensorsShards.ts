/**
 * Sharded safetensors as transformers' `save_pretrained` writes them (huggingface_hub
 * `split_state_dict_into_shards_factory`): tensors packed in state-dict order into shards of at most
 * `max_shard_size` bytes, `<stem>-00001-of-00003.safetensors`, and `<stem>.safetensors.index.json` with
 * {"metadata": {"total_parameters", "total_size"}, "weight_map": {tensor: shard}}. One shard is written as
 * plain `<stem>.safetensors` with no index, as transformers does.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { elementCount } from './parameters.ts';
import { SafetensorsWriter, readSafetensors } from './safetensors.ts';
import { SafetensorsFormatError, type SafetensorsDtype } from './safetensorsHeader.ts';
import { STORED_DTYPE_BYTES } from './halfPrecision.ts';
import { bytesFile, safetensorsFile, type StreamedFile } from './safetensorsStream.ts';

/** huggingface_hub's MAX_SHARD_SIZE, the default of `save_pretrained`. */
export const DEFAULT_MAX_SHARD_SIZE = '5GB';
/** huggingface_hub's units: decimal, as in `parse_size_to_int`. */
const SIZE_UNITS: Record<string, number> = { KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** `max_shard_size` in bytes: a number of bytes, or digits with KB/MB/GB/TB (decimal, any case), e.g. "2GB". */
export function parseShardSize(size: string | number): number {
  let bytes: number;
  if (typeof size === 'number') bytes = size;
  else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]B)?\s*$/i.exec(size);
    if (!match) {
      throw new Error(`max shard size ${JSON.stringify(size)}: use bytes or a number with KB, MB, GB or TB`);
    }
    bytes = Math.floor(Number(match[1]) * (match[2] ? SIZE_UNITS[match[2].toUpperCase()]! : 1));
  }
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new Error(`max shard size ${JSON.stringify(size)} must be a positive whole number of bytes`);
  }
  return bytes;
}

export interface ShardPlan {
  /** Every shard file with its tensors, in state-dict order. */
  files: { file: string; names: string[] }[];
  weightMap: Record<string, string>;
  totalSize: number;
  totalParameters: number;
}

export function shardFileName(stem: string, index: number, count: number): string {
  if (count === 1) return `${stem}.safetensors`;
  const pad = (n: number) => String(n).padStart(5, '0');
  return `${stem}-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

export function shardIndexFileName(stem: string): string {
  return `${stem}.safetensors.index.json`;
}

/**
 * huggingface_hub's rule: walk the tensors in order; a tensor larger than the limit gets a shard of its
 * own (appended at once, so before the shard still being filled); otherwise, if adding it would exceed the
 * limit, the current shard is closed and a new one started. No reordering to fill shards better.
 */
export function planShards(
  tensors: readonly { name: string; shape: readonly number[] }[],
  maxShardSize: string | number,
  stem = 'model',
  dtype: SafetensorsDtype = 'F32',
): ShardPlan {
  const limit = parseShardSize(maxShardSize);
  const shards: string[][] = [];
  let current: string[] = [];
  let currentSize = 0;
  let totalSize = 0;
  let totalParameters = 0;
  for (const { name, shape } of tensors) {
    const size = elementCount(shape) * STORED_DTYPE_BYTES[dtype];
    totalSize += size;
    totalParameters += elementCount(shape);
    if (size > limit) {
      shards.push([name]);
      continue;
    }
    if (currentSize + size > limit) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(name);
    currentSize += size;
  }
  if (current.length > 0) shards.push(current);
  const files = shards.map((names, i) => ({ file: shardFileName(stem, i, shards.length), names }));
  const weightMap: Record<string, string> = {};
  for (const { file, names } of files) for (const name of names) weightMap[name] = file;
  return { files, weightMap, totalSize, totalParameters };
}

/** The index file's text as transformers writes it: keys sorted, two-space indent, trailing newline. */
export function shardIndexJson(plan: ShardPlan): string {
  const weightMap = Object.fromEntries(
    Object.keys(plan.weightMap)
      .sort()
      .map((name) => [name, plan.weightMap[name]]),
  );
  const index = {
    metadata: { total_parameters: plan.totalParameters, total_size: plan.totalSize },
    weight_map: weightMap,
  };
  return `${JSON.stringify(index, null, 2)}\n`;
}

export interface NamedTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/** A tensor read only when its turn to be written comes (an export streams a checkpoint this way). */
export interface LazyTensor {
  name: string;
  shape: readonly number[];
  read(): Float32Array;
}

export interface WriteShardsOptions {
  /** File names `<stem>.safetensors`, `<stem>-0000i-of-0000n.safetensors` (default "model"). */
  stem?: string;
  maxShardSize?: string | number;
  /** Written into every shard's `__metadata__`, over {"format": "pt"}. */
  metadata?: Record<string, string>;
  /** The stored element type (default F32); values are rounded from float32 as torch rounds. */
  dtype?: SafetensorsDtype;
}

/**
 * Writes `tensors` (in state-dict order) as shards plus an index, or one file when they fit in one shard,
 * removing files of an earlier save with the same stem that would contradict them. Returns the plan.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: readonly (NamedTensor | LazyTensor)[],
  options: WriteShardsOptions = {},
): ShardPlan {
  const stem = options.stem ?? 'model';
  const dtype = options.dtype ?? 'F32';
  const plan = planShards(tensors, options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE, stem, dtype);
  removeSavedShards(dir, stem);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const { file, names } of plan.files) {
    const writer = SafetensorsWriter.create(
      join(dir, file),
      names.map((name) => byName.get(name)!),
      options.metadata,
      dtype,
    );
    try {
      for (const name of writer.names) {
        const tensor = byName.get(name)!;
        writer.write(name, 'data' in tensor ? tensor.data : tensor.read());
      }
    } catch (error) {
      writer.abort();
      throw error;
    }
    writer.close();
  }
  if (plan.files.length > 1) writeFileSync(join(dir, shardIndexFileName(stem)), shardIndexJson(plan));
  return plan;
}

/**
 * As writeShardedSafetensors, as files made on demand (safetensorsStream.ts): the same shards and index,
 * byte for byte, for a caller that streams them somewhere (an object store) rather than to a folder.
 */
export function shardedSafetensorsFiles(
  tensors: readonly (NamedTensor | LazyTensor)[],
  options: WriteShardsOptions = {},
): StreamedFile[] {
  const stem = options.stem ?? 'model';
  const dtype = options.dtype ?? 'F32';
  const plan = planShards(tensors, options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE, stem, dtype);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const files = plan.files.map(({ file, names }) =>
    safetensorsFile(
      file,
      names.map((name) => {
        const t = byName.get(name)!;
        return { name, shape: t.shape, read: () => ('data' in t ? t.data : t.read()) };
      }),
      options.metadata,
      dtype,
    ),
  );
  if (plan.files.length === 1) return files;
  return [...files, bytesFile(shardIndexFileName(stem), Buffer.from(shardIndexJson(plan), 'utf8'))];
}

/** A stale index would take precedence over a single file just written, and stale shards would mislead. */
function removeSavedShards(dir: string, stem: string): void {
  const shard = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{5}-of-\\d{5}\\.safetensors$`);
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (shard.test(name) || name === `${stem}.safetensors` || name === shardIndexFileName(stem)) {
      rmSync(join(dir, name), { force: true });
    }
  }
}

/**
 * The files holding a `<stem>` checkpoint in `dir`: the shards the index names, each with the tensors it
 * should hold, or the single `<stem>.safetensors` (null: whatever it holds).
 */
export function safetensorsFiles(
  dir: string,
  stem = 'model',
  hasFile: (file: string) => boolean = (file) => existsSync(join(dir, file)),
): Map<string, Set<string> | null> {
  const indexFile = shardIndexFileName(stem);
  const indexPath = join(dir, indexFile);
  if (hasFile(indexFile)) {
    let index: { weight_map?: unknown };
    try {
      index = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (err) {
      throw new SafetensorsFormatError(`${indexPath}: not valid JSON (${(err as Error).message})`);
    }
    const weightMap = index.weight_map as Record<string, unknown> | undefined;
    if (typeof weightMap !== 'object' || weightMap === null) {
      throw new SafetensorsFormatError(`${indexPath}: has no "weight_map" object`);
    }
    const byFile = new Map<string, Set<string>>();
    for (const [tensor, file] of Object.entries(weightMap)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
        throw new SafetensorsFormatError(
          `${indexPath}: weight_map entry for ${tensor} is not a file name (${JSON.stringify(file)})`,
        );
      }
      if (!byFile.has(file)) byFile.set(file, new Set());
      byFile.get(file)!.add(tensor);
    }
    return byFile;
  }
  const single = `${stem}.safetensors`;
  if (!hasFile(single)) {
    throw new SafetensorsFormatError(`${join(dir, single)}: missing (no ${single} and no ${indexFile})`);
  }
  return new Map([[single, null]]);
}

/** Every tensor of a `<stem>` checkpoint (sharded or not) as float32, checking the index against the shards. */
export function readShardedSafetensors(
  dir: string,
  stem = 'model',
  expectedShapes?: Map<string, readonly number[]>,
): Map<string, Float32Array> {
  const shards: ShardRead[] = [];
  for (const [file, listed] of safetensorsFiles(dir, stem)) {
    const path = join(dir, file);
    if (!existsSync(path)) {
      throw new SafetensorsFormatError(`${path}: missing (listed in ${shardIndexFileName(stem)})`);
    }
    shards.push({
      file,
      listed,
      tensors: readSafetensors(path, { ...(expectedShapes ? { expectedShapes } : {}) }),
    });
  }
  return collectShards(shards, stem);
}

/** One shard as read: the tensors the index places in it (null: no index), and what it held. */
export interface ShardRead {
  file: string;
  listed: Set<string> | null;
  tensors: Map<string, Float32Array>;
}

/** The tensors of every shard, checked against the index: each where it says, none in two files. */
export function collectShards(shards: readonly ShardRead[], stem: string): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const foundIn = new Map<string, string>();
  for (const { file, listed, tensors } of shards) {
    for (const name of listed ?? []) {
      if (!tensors.has(name)) {
        throw new SafetensorsFormatError(
          `${file}: tensor ${name} is missing (${shardIndexFileName(stem)} places it in this file)`,
        );
      }
    }
    for (const [name, data] of tensors) {
      if (foundIn.has(name)) {
        throw new SafetensorsFormatError(`${file}: tensor ${name} is also in ${foundIn.get(name)}`);
      }
      foundIn.set(name, file);
      out.set(name, data);
    }
  }
  return out;
}
