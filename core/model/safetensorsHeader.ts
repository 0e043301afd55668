/**
 * The safetensors header (https://github.com/huggingface/safetensors, "Format"): an 8-byte little-endian
 * length N, then N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}
 * padded with spaces so the data starts 8-byte aligned. Parsed and encoded here for the file reader and
 * writer (safetensors.ts) and the stream reader and writer (safetensorsStream.ts) alike.
 */
import { elementCount } from './parameters.ts';
import { STORED_DTYPE_BYTES as DTYPE_BYTES, type StoredDtype } from './halfPrecision.ts';

export type SafetensorsDtype = StoredDtype;

/** A tensor's name and shape: what the header needs before any data is written. */
export interface TensorEntry {
  name: string;
  shape: readonly number[];
}

/** Header length field: u64 little-endian. */
export const HEADER_LENGTH_BYTES = 8;
/** The reference writer pads the header with spaces so tensor data starts 8-byte aligned. */
const HEADER_ALIGNMENT = 8;
/** Rust safetensors refuses headers over 100 MB (MAX_HEADER_SIZE); a larger length means a corrupt file. */
const MAX_HEADER_BYTES = 100_000_000;
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

/**
 * The header's JSON length from the file's first 8 bytes (undefined: the file is shorter than that),
 * checked against the file's size before any of it is read.
 */
export function checkHeaderLength(
  lengthBytes: Uint8Array | undefined,
  file: string,
  fileSize: number,
): number {
  if (!lengthBytes) {
    throw new SafetensorsFormatError(
      `${file}: truncated (${fileSize} bytes, shorter than the 8-byte header length)`,
    );
  }
  const headerLen = Number(Buffer.from(lengthBytes.buffer, lengthBytes.byteOffset, 8).readBigUInt64LE(0));
  if (headerLen > MAX_HEADER_BYTES)
    throw new SafetensorsFormatError(`${file}: header length ${headerLen} is implausible`);
  if (HEADER_LENGTH_BYTES + headerLen > fileSize) {
    throw new SafetensorsFormatError(
      `${file}: header of ${headerLen} bytes overruns the file (${fileSize} bytes)`,
    );
  }
  return headerLen;
}

/** Validates the header's JSON (`headerBuf`) against a file of `fileSize` bytes; offsets become absolute. */
export function parseHeader(headerBuf: Uint8Array, file: string, fileSize: number): SafetensorsHeader {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(
      Buffer.from(headerBuf.buffer, headerBuf.byteOffset, headerBuf.byteLength).toString('utf8'),
    );
  } catch (err) {
    throw new SafetensorsFormatError(`${file}: header is not valid JSON (${(err as Error).message})`);
  }
  const dataStart = HEADER_LENGTH_BYTES + headerBuf.byteLength;
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

/** The header bytes (length, JSON, space padding) of a `dtype` file holding `entries`, in name order. */
export function encodeHeader(
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
