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
import { encodeFloat32As } from './halfPrecision.ts';
import {
  checkHeaderLength,
  encodeHeader,
  HEADER_LENGTH_BYTES,
  parseHeader,
  SafetensorsFormatError,
  type SafetensorsDtype,
  type SafetensorsHeader,
  type TensorEntry,
  type TensorInfo,
} from './safetensorsHeader.ts';

/** Tensors are converted from F16/BF16 in chunks of this many elements to bound the scratch buffer. */
const CONVERT_CHUNK_ELEMENTS = 1 << 20;

if (endianness() !== 'LE') throw new Error('safetensors: only little-endian hosts are supported');

/** Reads and validates the header of `path` from an open descriptor. */
function readHeader(fd: number, path: string, fileSize: number): SafetensorsHeader {
  const file = basename(path);
  const lenBuf = Buffer.alloc(HEADER_LENGTH_BYTES);
  if (fileSize >= HEADER_LENGTH_BYTES) readExactly(fd, lenBuf, 0, file, 'header length');
  const headerLen = checkHeaderLength(fileSize >= HEADER_LENGTH_BYTES ? lenBuf : undefined, file, fileSize);
  const headerBuf = Buffer.alloc(headerLen);
  readExactly(fd, headerBuf, HEADER_LENGTH_BYTES, file, 'header');
  return parseHeader(headerBuf, file, fileSize);
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

export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array;
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
