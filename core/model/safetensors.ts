/**
 * safetensors files (https://github.com/huggingface/safetensors, "Format"): an 8-byte little-endian header
 * length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
 * then the tensor bytes (offsets relative to the end of the header). F32/F16/BF16 read into Float32Array;
 * F32, F16 or BF16 written from float32 (halfPrecision.ts rounds as torch does). Nothing holds a whole file: the reader parses the header, then reads each tensor (or a
 * window of one) with positioned reads straight into its final array; the writer writes the header (the
 * sizes follow from the shapes) and then each tensor in turn. Files of any size work (Node's 2 GiB limit
 * is on one buffer read, and no read here is larger than one tensor).
 */
import { closeSync, fstatSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename } from 'node:path';
import { elementCount } from './parameters.ts';
import { halfToFloat } from '../graph/dtype.ts';
import { encodeFloat32As, STORED_DTYPE_BYTES as DTYPE_BYTES, type StoredDtype } from './halfPrecision.ts';

export type SafetensorsDtype = StoredDtype;
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

/**
 * A file that is not valid safetensors, or does not hold what the caller requires (a shape, a dtype). The
 * file's bytes decide it, so reading again cannot help. The name stays "Error" so messages read as before.
 */
export class SafetensorsFormatError extends Error {}

if (endianness() !== 'LE') throw new Error('safetensors: only little-endian hosts are supported');

/** Reads and validates the header of `path` from an open descriptor. */
function readHeader(fd: number, path: string, fileSize: number): SafetensorsHeader {
  const file = basename(path);
  if (fileSize < HEADER_LENGTH_BYTES) {
    throw new SafetensorsFormatError(
      `${file}: truncated (${fileSize} bytes, shorter than the 8-byte header length)`,
    );
  }
  const lenBuf = Buffer.alloc(HEADER_LENGTH_BYTES);
  readExactly(fd, lenBuf, 0, file, 'header length');
  const headerLen = Number(lenBuf.readBigUInt64LE(0));
  if (headerLen > MAX_HEADER_BYTES)
    throw new SafetensorsFormatError(`${file}: header length ${headerLen} is implausible`);
  if (HEADER_LENGTH_BYTES + headerLen > fileSize) {
    throw new SafetensorsFormatError(
      `${file}: header of ${headerLen} bytes overruns the file (${fileSize} bytes)`,
    );
  }
  const headerBuf = Buffer.alloc(headerLen);
  readExactly(fd, headerBuf, HEADER_LENGTH_BYTES, file, 'header');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(headerBuf.toString('utf8'));
  } catch (err) {
    throw new SafetensorsFormatError(`${file}: header is not valid JSON (${(err as Error).message})`);
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
    if (typeof v?.dtype !== 'string') throw new SafetensorsFormatError(`${where} has no dtype`);
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsFormatError(`${where} has an invalid shape ${JSON.stringify(v.shape)}`);
    }
    const offsets = v.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0)
    ) {
      throw new SafetensorsFormatError(`${where} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [b, e] = offsets as [number, number];
    if (e < b)
      throw new SafetensorsFormatError(`${where} has data_offsets [${b},${e}] that end before they begin`);
    if (e > dataBytes) {
      throw new SafetensorsFormatError(
        `${where} ends at byte ${e} of the data but the file holds only ${dataBytes} (truncated)`,
      );
    }
    const shape = v.shape as number[];
    const perElement = DTYPE_BYTES[v.dtype as SafetensorsDtype];
    if (perElement !== undefined && e - b !== elementCount(shape) * perElement) {
      throw new SafetensorsFormatError(
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
    if (n === 0) throw new SafetensorsFormatError(`${file}: truncated while reading ${what}`);
    done += n;
  }
}

/**
 * An open safetensors file: the header parsed, tensors read on demand by positioned reads. Close it when
 * done (readSafetensors does).
 */
export class SafetensorsReader {
  private constructor(
    private readonly fd: number,
    readonly path: string,
    readonly header: SafetensorsHeader,
  ) {}

  static open(path: string): SafetensorsReader {
    const fd = openSync(path, 'r');
    try {
      return new SafetensorsReader(fd, path, readHeader(fd, path, fstatSync(fd).size));
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  get file(): string {
    return basename(this.path);
  }

  info(name: string): TensorInfo {
    const info = this.header.tensors.get(name);
    if (!info) throw new SafetensorsFormatError(`${this.file}: tensor ${name} is missing`);
    return info;
  }

  /** The whole tensor as float32; `expectedShape` (when given) must match the file's. */
  read(name: string, expectedShape?: readonly number[]): Float32Array {
    const info = this.info(name);
    if (expectedShape && !sameShape(expectedShape, info.shape)) {
      throw new SafetensorsFormatError(
        `${this.file}: tensor ${name} has shape [${info.shape}], expected [${expectedShape}]`,
      );
    }
    return readElements(this.fd, info, this.file, 0, elementCount(info.shape));
  }

  /** Elements [start, start + count) of the tensor in row-major order, as float32. */
  readWindow(name: string, start: number, count: number): Float32Array {
    const info = this.info(name);
    const n = elementCount(info.shape);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > n) {
      throw new RangeError(
        `${this.file}: window [${start}, ${start + count}) of tensor ${name} is outside its ${n} elements`,
      );
    }
    return readElements(this.fd, info, this.file, start, count);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The header of a safetensors file, without reading any tensor data. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const reader = SafetensorsReader.open(path);
  reader.close();
  return reader.header;
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
  const reader = SafetensorsReader.open(path);
  try {
    const out = new Map<string, Float32Array>();
    for (const name of reader.header.tensors.keys()) {
      if (options.select && !options.select(name)) continue;
      out.set(name, reader.read(name, options.expectedShapes?.get(name)));
    }
    return out;
  } finally {
    reader.close();
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Elements [start, start + count) of a tensor, converted to float32 as they are read. */
function readElements(
  fd: number,
  info: TensorInfo,
  file: string,
  start: number,
  count: number,
): Float32Array {
  const out = new Float32Array(count);
  const what = `tensor ${info.name}`;
  if (info.dtype === 'F32') {
    readExactly(fd, new Uint8Array(out.buffer), info.begin + start * 4, file, what);
    return out;
  }
  if (info.dtype !== 'F16' && info.dtype !== 'BF16') {
    throw new SafetensorsFormatError(
      `${file}: ${what} has dtype ${info.dtype} (only F32, F16 and BF16 are read)`,
    );
  }
  // bfloat16 is the top half of a float32: shift the bits into place. F16 goes through a 64k-entry table.
  const outBits = new Uint32Array(out.buffer);
  const table = info.dtype === 'F16' ? halfTable() : undefined;
  const scratch = new Uint16Array(Math.min(count, CONVERT_CHUNK_ELEMENTS));
  for (let done = 0; done < count; done += scratch.length) {
    const n = Math.min(scratch.length, count - done);
    const bytes = new Uint8Array(scratch.buffer, 0, n * 2);
    readExactly(fd, bytes, info.begin + (start + done) * 2, file, what);
    if (table) for (let i = 0; i < n; i++) out[done + i] = table[scratch[i]];
    else for (let i = 0; i < n; i++) outBits[done + i] = scratch[i] << 16;
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

/** A tensor's name and shape: what the header needs before any data is written. */
export interface TensorEntry {
  name: string;
  shape: readonly number[];
}

export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array;
}

/** The header bytes (length, JSON, space padding) of a `dtype` file holding `entries`, in name order. */
function encodeHeader(
  entries: readonly TensorEntry[],
  metadata: Record<string, string>,
  dtype: SafetensorsDtype,
): { bytes: Buffer; names: string[] } {
  const names = entries.map((e) => e.name).sort();
  const byName = new Map(entries.map((e) => [e.name, e]));
  if (byName.size !== entries.length) throw new Error('safetensors: a tensor name appears twice');
  const header: Record<string, unknown> = { __metadata__: { ...HF_METADATA, ...metadata } };
  let offset = 0;
  for (const name of names) {
    const shape = [...byName.get(name)!.shape];
    const bytes = elementCount(shape) * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  const padding =
    (HEADER_ALIGNMENT - ((HEADER_LENGTH_BYTES + Buffer.byteLength(headerText)) % HEADER_ALIGNMENT)) %
    HEADER_ALIGNMENT;
  headerText += ' '.repeat(padding);
  const json = Buffer.from(headerText, 'utf8');
  const bytes = Buffer.alloc(HEADER_LENGTH_BYTES + json.length);
  bytes.writeBigUInt64LE(BigInt(json.length));
  json.copy(bytes, HEADER_LENGTH_BYTES);
  return { bytes, names };
}

/**
 * Writes a safetensors file one tensor at a time: the header goes first (sizes follow from the shapes),
 * then each tensor in name order (`names`), so only the tensor being written need exist. Values come as
 * float32 and are stored as `dtype` (default F32). `metadata` is merged over {"format": "pt"}, which
 * transformers requires.
 */
export class SafetensorsWriter {
  private next = 0;

  private constructor(
    private readonly fd: number,
    readonly path: string,
    /** The order `write` must follow (the file's order: by name, as the reference writer sorts). */
    readonly names: readonly string[],
    private readonly shapes: Map<string, readonly number[]>,
    readonly dtype: SafetensorsDtype,
  ) {}

  static create(
    path: string,
    entries: readonly TensorEntry[],
    metadata: Record<string, string> = {},
    dtype: SafetensorsDtype = 'F32',
  ): SafetensorsWriter {
    const { bytes, names } = encodeHeader(entries, metadata, dtype);
    const fd = openSync(path, 'w');
    try {
      writeAll(fd, bytes);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return new SafetensorsWriter(fd, path, names, new Map(entries.map((e) => [e.name, e.shape])), dtype);
  }

  write(name: string, data: Float32Array): void {
    const file = basename(this.path);
    const expected = this.names[this.next];
    if (name !== expected) {
      throw new Error(`${file}: tensor ${name} written out of order (the next is ${expected ?? 'none'})`);
    }
    const shape = this.shapes.get(name)!;
    if (data.length !== elementCount(shape)) {
      throw new Error(`${file}: tensor ${name} has ${data.length} values but shape [${shape}]`);
    }
    for (let i = 0; i < data.length; i += CONVERT_CHUNK_ELEMENTS)
      // bounded scratch for half precision
      writeAll(this.fd, encodeFloat32As(data.subarray(i, i + CONVERT_CHUNK_ELEMENTS), this.dtype));
    this.next++;
  }

  /** Closes and removes the partial file (after a failed write). */
  abort(): void {
    closeSync(this.fd);
    rmSync(this.path, { force: true });
  }

  /** Closes the file; an error if a tensor the header lists was not written. */
  close(): void {
    closeSync(this.fd);
    if (this.next !== this.names.length) {
      throw new Error(`${basename(this.path)}: closed after ${this.next} of ${this.names.length} tensors`);
    }
  }
}

/** Writes tensors as F32 in name order, one tensor at a time (no copy of the whole model). */
export function writeSafetensors(
  path: string,
  tensors: Map<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): void {
  const file = basename(path);
  for (const [name, t] of tensors) {
    if (t.data.length !== elementCount(t.shape)) {
      throw new Error(`${file}: tensor ${name} has ${t.data.length} values but shape [${t.shape}]`);
    }
  }
  const entries = [...tensors].map(([name, t]) => ({ name, shape: t.shape }));
  const writer = SafetensorsWriter.create(path, entries, metadata);
  try {
    for (const name of writer.names) writer.write(name, tensors.get(name)!.data);
  } catch (error) {
    writer.abort();
    throw error;
  }
  writer.close();
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}
