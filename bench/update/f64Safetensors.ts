/**
 * float64 safetensors, as the torch trainer's parity entry point (reasonloop_torch.parity) reads and writes
 * them: header (names sorted, 8-byte aligned as the reference writer pads), then the data.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { HostTensor } from '../../core/graph/index.ts';

export function writeF64Safetensors(path: string, tensors: Record<string, HostTensor>): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const n of names) {
    const bytes = tensors[n].data.length * 8;
    header[n] = { dtype: 'F64', shape: tensors[n].dims, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - ((8 + Buffer.byteLength(text)) % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, length);
    writeSync(fd, Buffer.from(text));
    for (const n of names)
      writeSync(fd, Buffer.from(Float64Array.from(tensors[n].data as Float64Array).buffer));
  } finally {
    closeSync(fd);
  }
}

export function readF64Safetensors(path: string): Map<string, Float64Array> {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString()) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >;
  const out = new Map<string, Float64Array>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info.dtype !== 'F64') throw new Error(`${path}: ${name} is ${info.dtype}, not F64`);
    const [b, e] = info.data_offsets;
    const slice = bytes.subarray(8 + n + b, 8 + n + e);
    out.set(
      name,
      new Float64Array(slice.buffer.slice(slice.byteOffset, slice.byteOffset + slice.byteLength)),
    );
  }
  return out;
}
