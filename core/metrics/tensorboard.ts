/**
 * TensorBoard event files of a run's metrics, so `tensorboard --logdir` shows the curves with no service:
 * TFRecord framing (length, masked CRC32C of the length, data, masked CRC32C of the data) around
 * `tensorflow.Event` protos (wall_time = 1, step = 2, file_version = 3, summary = 5), each summary a list of
 * `Summary.Value {tag = 1, simple_value = 2}`. Written from the format's definition
 * (tensorflow/core/lib/io/record_writer.cc, tensorflow/core/util/event.proto); an object store cannot
 * append, so each checkpoint writes one small file and TensorBoard reads every `*tfevents*` file of the
 * folder in name order.
 */
import { padStep, runPrefix } from '../store/keys.ts';

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC32C_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add 0xa282ead8 (so CRCs of CRCs stay well distributed). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: u64 length, u32 masked CRC of those 8 bytes, the data, u32 masked CRC of the data. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

class ProtoWriter {
  private bytes: number[] = [];
  private varint(v: bigint): void {
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) {
      this.bytes.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.bytes.push(Number(x));
  }
  private key(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }
  double(field: number, v: number): this {
    this.key(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.bytes.push(...b);
    return this;
  }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.bytes.push(...b);
    return this;
  }
  int64(field: number, v: number): this {
    this.key(field, 0);
    this.varint(BigInt(v));
    return this;
  }
  bytesField(field: number, v: Uint8Array): this {
    this.key(field, 2);
    this.varint(BigInt(v.length));
    this.bytes.push(...v);
    return this;
  }
  string(field: number, v: string): this {
    return this.bytesField(field, new TextEncoder().encode(v));
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** The first event of every file: `file_version: "brain.Event:2"`. */
export function fileVersionEvent(wallTime: number): Uint8Array {
  return new ProtoWriter().double(1, wallTime).string(3, 'brain.Event:2').finish();
}

/** One Event with a scalar summary value per finite metric, tags in name order. */
export function scalarsEvent(wallTime: number, step: number, metrics: Record<string, number>): Uint8Array {
  const summary = new ProtoWriter();
  for (const tag of Object.keys(metrics).sort()) {
    if (!Number.isFinite(metrics[tag])) continue;
    summary.bytesField(1, new ProtoWriter().string(1, tag).float(2, metrics[tag]).finish());
  }
  return new ProtoWriter().double(1, wallTime).int64(2, step).bytesField(5, summary.finish()).finish();
}

/** A whole event file for one step's metrics (wall time in seconds since the epoch). */
export function stepEventFile(wallTime: number, step: number, metrics: Record<string, number>): Uint8Array {
  const a = tfRecord(fileVersionEvent(wallTime));
  const b = tfRecord(scalarsEvent(wallTime, step, metrics));
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** `runs/<runId>/tensorboard/events.out.tfevents.<step>.reasonloop`: name order is step order. */
export function eventFileKey(runId: string, step: number): string {
  return `${runPrefix(runId)}tensorboard/events.out.tfevents.${padStep(step)}.reasonloop`;
}
