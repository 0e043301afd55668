// TensorBoard event files read back by a reader written here from the TFRecord and protobuf specs, with
// its own bit-by-bit CRC32C (not the writer's table): every record's masked CRCs check, and the Event and
// Summary fields decode to the metrics written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c, eventFileKey, maskedCrc32c, stepEventFile } from '../../../core/metrics/tensorboard.ts';

function bitwiseCrc32c(bytes: Uint8Array): number {
  let crc = ~0 >>> 0;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
  }
  return ~crc >>> 0;
}
const masked = (b: Uint8Array) => {
  const c = bitwiseCrc32c(b);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
};

function readRecords(file: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let at = 0; at < file.length;) {
    const length = Number(view.getBigUint64(at, true));
    assert.equal(view.getUint32(at + 8, true), masked(file.subarray(at, at + 8)), 'length CRC');
    const data = file.subarray(at + 12, at + 12 + length);
    assert.equal(view.getUint32(at + 12 + length, true), masked(data), 'data CRC');
    out.push(data);
    at += 16 + length;
  }
  return out;
}

type Field = { field: number; wire: number; value: bigint | Uint8Array | number };
function decode(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  const varint = () => {
    let x = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[at++];
      x |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return x;
    }
  };
  while (at < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ field, wire, value: varint() });
    else if (wire === 1) fields.push({ field, wire, value: view.getFloat64((at += 8) - 8, true) });
    else if (wire === 5) fields.push({ field, wire, value: view.getFloat32((at += 4) - 4, true) });
    else if (wire === 2) {
      const n = Number(varint());
      fields.push({ field, wire, value: buf.subarray(at, (at += n)) });
    } else throw new Error(`wire type ${wire}`);
  }
  return fields;
}

test('CRC32C check value and the masked form', () => {
  const digits = new TextEncoder().encode('123456789');
  assert.equal(crc32c(digits), 0xe3069283, 'the CRC-32C check value');
  assert.equal(bitwiseCrc32c(digits), 0xe3069283);
  assert.equal(maskedCrc32c(digits), masked(digits));
});

test('an event file holds the file version and one scalar per finite metric at the step', () => {
  const metrics = { loss: 0.25, 'timing/step': 3.5, accuracy: 0.75, bad: Number.NaN };
  const file = stepEventFile(1764650000.5, 7, metrics);
  const [first, second] = readRecords(file);
  const version = decode(first);
  assert.equal(version.find((f) => f.field === 1)!.value, 1764650000.5);
  assert.equal(
    new TextDecoder().decode(version.find((f) => f.field === 3)!.value as Uint8Array),
    'brain.Event:2',
  );
  const event = decode(second);
  assert.equal(event.find((f) => f.field === 2)!.value, 7n, 'step');
  const summary = decode(event.find((f) => f.field === 5)!.value as Uint8Array);
  const scalars = Object.fromEntries(
    summary.map((v) => {
      const value = decode(v.value as Uint8Array);
      return [
        new TextDecoder().decode(value.find((f) => f.field === 1)!.value as Uint8Array),
        value.find((f) => f.field === 2)!.value,
      ];
    }),
  );
  assert.deepEqual(scalars, { accuracy: 0.75, loss: 0.25, 'timing/step': 3.5 });
  assert.match(eventFileKey('r', 12), /^runs\/r\/tensorboard\/events\.out\.tfevents\.0+12\.reasonloop$/);
});
