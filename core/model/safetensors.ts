/**
 * safetensors files (https://github.com/huggingface/safetensors, "Format"): an 8-byte little-endian header
 * length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
 * then the tensor bytes (offsets relative to the end of the header). F32/F16/BF16 read into Float32Array;
 * F32 written. Tensors are read one at a time from the file descriptor straight into their final arrays,
 * so an F32 file costs its own size in memory, not twice that.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename } from 'node:path';
import { elementCount } from './parameters.ts';
import { halfToFloat } from '../graph/dtype.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

/** Bytes per element of each dtype we read. */
const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
/** Header length field: u64 little-endian. */
const HEADER_LENGTH_BYTES = 8;
/** The reference writer pads the header with spaces so tensor data starts 8-byte aligned. */
const HEADER_ALIGNMENT = 8;
/** Rust safetensors refuses headers over 100 MB (MAX_HEADER_SIZE); a larger length means a corrupt file. */
const MAX_HEADER_BYTES = 100_000_000;
/** Tensors are converted from F16/BF16 in chunks of this many elements to bound the scratch buffer. */
const CONVERT_CHUNK_ELEMENTS = 1 << 20;
/** transformers refuses a safetensors file whose metadata lacks format "pt" (or tf/flax/mlx). */
const HF_METADATA = { format: 'pt' };

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offsets of the data in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

if (endianness() !== 'LE') throw new Error('safetensors: only little-endian hosts are supported');

/** Reads and validates the header of `path` from an open descriptor. */
function readHeader(fd: number, path: string, fileSize: number): SafetensorsHeader {
  const file = basename(path);
  if (fileSize < HEADER_LENGTH_BYTES) {
    throw new Error(`${file}: truncated (${fileSize} bytes, shorter than the 8-byte header length)`);
  }
  const lenBuf = Buffer.alloc(HEADER_LENGTH_BYTES);
  readExactly(fd, lenBuf, 0, file, 'header length');
  const headerLen = Number(lenBuf.readBigUInt64LE(0));
  if (headerLen > MAX_HEADER_BYTES) throw new Error(`${file}: header length ${headerLen} is implausible`);
  if (HEADER_LENGTH_BYTES + headerLen > fileSize) {
    throw new Error(`${file}: header of ${headerLen} bytes overruns the file (${fileSize} bytes)`);
  }
  const headerBuf = Buffer.alloc(headerLen);
  readExactly(fd, headerBuf, HEADER_LENGTH_BYTES, file, 'header');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(headerBuf.toString('utf8'));
  } catch (err) {
    throw new Error(`${file}: header is not valid JSON (${(err as Error).message})`);
  }
  const dataStart = HEADER_LENGTH_BYTES + headerLen;
  const dataBytes = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${file}: tensor ${name}`;
    if (typeof v?.dtype !== 'string') throw new Error(`${where} has no dtype`);
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`${where} has an invalid shape ${JSON.stringify(v.shape)}`);
    }
    const offsets = v.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0)
    ) {
      throw new Error(`${where} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [b, e] = offsets as [number, number];
    if (e < b) throw new Error(`${where} has data_offsets [${b},${e}] that end before they begin`);
    if (e > dataBytes) {
      throw new Error(
        `${where} ends at byte ${e} of the data but the file holds only ${dataBytes} (truncated)`,
      );
    }
    const shape = v.shape as number[];
    const perElement = DTYPE_BYTES[v.dtype as SafetensorsDtype];
    if (perElement !== undefined && e - b !== elementCount(shape) * perElement) {
      throw new Error(
        `${where} has ${e - b} bytes but shape [${shape}] × ${v.dtype} needs ${elementCount(shape) * perElement}`,
      );
    }
    tensors.set(name, { name, dtype: v.dtype, shape, begin: dataStart + b, end: dataStart + e });
  }
  return { tensors, metadata };
}

function readExactly(fd: number, into: Uint8Array, position: number, file: string, what: string): void {
  let done = 0;
  while (done < into.byteLength) {
    const n = readSync(fd, into, done, into.byteLength - done, position + done);
    if (n === 0) throw new Error(`${file}: truncated while reading ${what}`);
    done += n;
  }
}

/** The header of a safetensors file, without reading any tensor data. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    return readHeader(fd, path, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

export interface ReadSafetensorsOptions {
  /** Shapes the caller requires, by tensor name: a mismatch is an error naming the file and tensor. */
  expectedShapes?: Map<string, readonly number[]>;
  /** Read only the tensors this returns true for (default: all). */
  select?: (name: string) => boolean;
}

/** Reads the tensors of one safetensors file as float32. */
export function readSafetensors(
  path: string,
  options: ReadSafetensorsOptions = {},
): Map<string, Float32Array> {
  const file = basename(path);
  const fd = openSync(path, 'r');
  try {
    const { tensors } = readHeader(fd, path, fstatSync(fd).size);
    const out = new Map<string, Float32Array>();
    for (const info of tensors.values()) {
      if (options.select && !options.select(info.name)) continue;
      const expected = options.expectedShapes?.get(info.name);
      if (expected && !sameShape(expected, info.shape)) {
        throw new Error(`${file}: tensor ${info.name} has shape [${info.shape}], expected [${expected}]`);
      }
      out.set(info.name, readTensor(fd, info, file));
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function readTensor(fd: number, info: TensorInfo, file: string): Float32Array {
  const n = elementCount(info.shape);
  const out = new Float32Array(n);
  const what = `tensor ${info.name}`;
  if (info.dtype === 'F32') {
    readExactly(fd, new Uint8Array(out.buffer), info.begin, file, what);
    return out;
  }
  if (info.dtype !== 'F16' && info.dtype !== 'BF16') {
    throw new Error(`${file}: ${what} has dtype ${info.dtype} (only F32, F16 and BF16 are read)`);
  }
  // bfloat16 is the top half of a float32: shift the bits into place. F16 goes through a 64k-entry table.
  const outBits = new Uint32Array(out.buffer);
  const table = info.dtype === 'F16' ? halfTable() : undefined;
  const scratch = new Uint16Array(Math.min(n, CONVERT_CHUNK_ELEMENTS));
  for (let start = 0; start < n; start += scratch.length) {
    const count = Math.min(scratch.length, n - start);
    const bytes = new Uint8Array(scratch.buffer, 0, count * 2);
    readExactly(fd, bytes, info.begin + start * 2, file, what);
    if (table) for (let i = 0; i < count; i++) out[start + i] = table[scratch[i]];
    else for (let i = 0; i < count; i++) outBits[start + i] = scratch[i] << 16;
  }
  return out;
}

let HALF_TABLE: Float32Array | undefined;
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(1 << 16);
    for (let bits = 0; bits < 1 << 16; bits++) HALF_TABLE[bits] = halfToFloat(bits);
  }
  return HALF_TABLE;
}

export { halfToFloat };

export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array;
}

/**
 * Writes tensors as F32 in name order, streaming each tensor to the file (no copy of the whole model).
 * `metadata` is merged over {"format": "pt"}, which transformers requires.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): void {
  const file = basename(path);
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: { ...HF_METADATA, ...metadata } };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    if (t.data.length !== elementCount(t.shape)) {
      throw new Error(`${file}: tensor ${name} has ${t.data.length} values but shape [${t.shape}]`);
    }
    const bytes = t.data.byteLength;
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  const padding =
    (HEADER_ALIGNMENT - ((HEADER_LENGTH_BYTES + Buffer.byteLength(headerText)) % HEADER_ALIGNMENT)) %
    HEADER_ALIGNMENT;
  headerText += ' '.repeat(padding);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const lenBuf = Buffer.alloc(HEADER_LENGTH_BYTES);
  lenBuf.writeBigUInt64LE(BigInt(headerBytes.length));
  const fd = openSync(path, 'w');
  try {
    writeAll(fd, lenBuf);
    writeAll(fd, headerBytes);
    for (const name of names) {
      const data = tensors.get(name)!.data;
      writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}
