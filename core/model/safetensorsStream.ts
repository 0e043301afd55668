/**
 * safetensors as byte streams, for objects that go straight between memory and an object store: the
 * writer yields the header and then each tensor's bytes as views of its Float32Array (no copy at F32),
 * the reader copies a stream's bytes into each tensor's final array as they arrive. Neither holds a whole
 * file, and no local file is written or read: a trainer's state reaches the store, and comes back, in one
 * pass (docs/architecture.md, "The trainer's state goes between memory and the store").
 */
import { Readable } from 'node:stream';
import { encodeFloat32As, STORED_DTYPE_BYTES } from './halfPrecision.ts';
import { elementCount } from './parameters.ts';
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
import { sameShape, type ReadSafetensorsOptions } from './safetensors.ts';

/** Elements per chunk a tensor is yielded in: 4 MiB at F32, a bounded scratch when converting. */
const CHUNK_ELEMENTS = 1 << 20;

/** A file made on demand: its size is known before a byte of it exists, and each `open` starts over. */
export interface StreamedFile {
  file: string;
  size: number;
  open(): Readable;
}

/** A tensor whose values are asked for only when the stream reaches it. */
export interface TensorToStream extends TensorEntry {
  read(): Float32Array;
}

/** A file of fixed bytes (a JSON index or config) in the same form as a streamed one. */
export function bytesFile(file: string, bytes: Uint8Array): StreamedFile {
  return { file, size: bytes.byteLength, open: () => Readable.from([bytes]) };
}

/**
 * One safetensors file of `tensors` (written in name order, as the file writer does), byte for byte what
 * SafetensorsWriter writes for the same tensors, metadata and dtype.
 */
export function safetensorsFile(
  file: string,
  tensors: readonly TensorToStream[],
  metadata: Record<string, string> = {},
  dtype: SafetensorsDtype = 'F32',
): StreamedFile {
  const { bytes: header, names } = encodeHeader(tensors, metadata, dtype);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const dataBytes = tensors.reduce((sum, t) => sum + elementCount(t.shape) * STORED_DTYPE_BYTES[dtype], 0);
  function* chunks(): Generator<Uint8Array> {
    yield header;
    for (const name of names) {
      const tensor = byName.get(name)!;
      const data = tensor.read();
      if (data.length !== elementCount(tensor.shape)) {
        throw new Error(`${file}: tensor ${name} has ${data.length} values but shape [${tensor.shape}]`);
      }
      for (let i = 0; i < data.length; i += CHUNK_ELEMENTS) {
        yield encodeFloat32As(data.subarray(i, i + CHUNK_ELEMENTS), dtype);
      }
    }
  }
  return { file, size: header.byteLength + dataBytes, open: () => Readable.from(chunks()) };
}

export interface StreamedSafetensors {
  header: SafetensorsHeader;
  tensors: Map<string, Float32Array>;
}

/**
 * Reads a safetensors file of `size` bytes from a stream into float32 arrays, one per tensor selected,
 * each allocated once and filled as its bytes arrive. F32 only: what a checkpoint holds (the trainer's
 * state is float32 byte for byte); a stream that ends early or runs long is an error naming the file.
 */
export async function readSafetensorsStream(
  source: AsyncIterable<Uint8Array>,
  file: string,
  size: number,
  options: ReadSafetensorsOptions = {},
): Promise<StreamedSafetensors> {
  const chunks = source[Symbol.asyncIterator]();
  try {
    const prefix = new PrefixReader(chunks, file);
    const lengthBytes = size >= HEADER_LENGTH_BYTES ? await prefix.take(HEADER_LENGTH_BYTES) : undefined;
    const header = parseHeader(await prefix.take(checkHeaderLength(lengthBytes, file, size)), file, size);
    const targets = selectedTargets(header, file, options);
    await fillTargets(prefix, targets, file, size);
    return { header, tensors: new Map(targets.map((t) => [t.info.name, t.data])) };
  } finally {
    // Stops the source (an object store's response) when reading ends early on an error.
    await chunks.return?.();
  }
}

/** Copies the data section into the targets (sorted by offset) as it streams past. */
async function fillTargets(
  prefix: PrefixReader,
  targets: Target[],
  file: string,
  size: number,
): Promise<void> {
  let position = prefix.consumed;
  let first = 0;
  for await (const chunk of prefix.rest()) {
    const end = position + chunk.byteLength;
    if (end > size) throw new SafetensorsFormatError(`${file}: longer than its ${size} bytes`);
    for (let i = first; i < targets.length && targets[i]!.info.begin < end; i++) {
      const { info, bytes } = targets[i]!;
      const from = Math.max(info.begin, position);
      const to = Math.min(info.end, end);
      if (to > from) bytes.set(chunk.subarray(from - position, to - position), from - info.begin);
    }
    while (first < targets.length && targets[first]!.info.end <= end) first++;
    position = end;
  }
  if (position !== size) {
    throw new SafetensorsFormatError(`${file}: truncated (${position} of ${size} bytes arrived)`);
  }
}

interface Target {
  info: TensorInfo;
  data: Float32Array;
  bytes: Uint8Array;
}

/** The selected tensors in file order, each with its output array, checked before any data is read. */
function selectedTargets(header: SafetensorsHeader, file: string, options: ReadSafetensorsOptions): Target[] {
  const targets: Target[] = [];
  for (const info of header.tensors.values()) {
    if (options.select && !options.select(info.name)) continue;
    const expected = options.expectedShapes?.get(info.name);
    if (expected && !sameShape(expected, info.shape)) {
      throw new SafetensorsFormatError(
        `${file}: tensor ${info.name} has shape [${info.shape}], expected [${expected}]`,
      );
    }
    if (info.dtype !== 'F32') {
      throw new SafetensorsFormatError(
        `${file}: tensor ${info.name} has dtype ${info.dtype} (a streamed checkpoint file is read as F32 only)`,
      );
    }
    const data = new Float32Array(elementCount(info.shape));
    targets.push({ info, data, bytes: new Uint8Array(data.buffer) });
  }
  return targets.sort((a, b) => a.info.begin - b.info.begin);
}

/** Takes exact byte counts off the front of a chunk stream, then hands over what remains. */
class PrefixReader {
  consumed = 0;
  private pending: Uint8Array | undefined;

  constructor(
    private readonly chunks: AsyncIterator<Uint8Array>,
    private readonly file: string,
  ) {}

  async take(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      let chunk = this.pending;
      this.pending = undefined;
      if (!chunk) {
        const next = await this.chunks.next();
        if (next.done) throw new SafetensorsFormatError(`${this.file}: truncated in its header`);
        chunk = next.value;
      }
      const used = Math.min(n - filled, chunk.byteLength);
      out.set(chunk.subarray(0, used), filled);
      filled += used;
      if (used < chunk.byteLength) this.pending = chunk.subarray(used);
    }
    this.consumed += n;
    return out;
  }

  async *rest(): AsyncGenerator<Uint8Array> {
    if (this.pending) yield this.pending;
    this.pending = undefined;
    for (let next = await this.chunks.next(); !next.done; next = await this.chunks.next()) yield next.value;
  }
}
