import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, deflateSync } from 'node:zlib';
import { decodePng } from '../../helpers/png.ts';

// An encoder written here, independent of the decoder, that applies the PNG spec's filters (§9.2) forward.

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function filterRow(filter: number, row: Uint8Array, prev: Uint8Array | undefined, bpp: number): Uint8Array {
  const out = new Uint8Array(row.length + 1);
  out[0] = filter;
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp]! : 0;
    const b = prev ? prev[i]! : 0;
    const c = prev && i >= bpp ? prev[i - bpp]! : 0;
    const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter]!;
    out[i + 1] = (row[i]! - predictor) & 0xff;
  }
  return out;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

function encodePng(
  width: number,
  height: number,
  channels: 3 | 4,
  pixels: Uint8Array,
  filters: readonly number[],
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, channels === 4 ? 6 : 2, 0, 0, 0], 8);
  const stride = width * channels;
  const rows: Uint8Array[] = [];
  for (let y = 0; y < height; y++) {
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : undefined;
    rows.push(filterRow(filters[y % filters.length]!, row, prev, channels));
  }
  const idat = deflateSync(Buffer.concat(rows));
  // Split the compressed stream over two IDAT chunks, as encoders may.
  const half = idat.length >> 1;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat.subarray(0, half)),
    chunk('IDAT', idat.subarray(half)),
    chunk('IEND', new Uint8Array()),
  ]);
}

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) out[i] = (s = (s * 1103515245 + 12345) % 2 ** 31) >> 16;
  return out;
}

test('decodes RGB and RGBA images written with each filter type and with mixed filters', () => {
  for (const channels of [3, 4] as const) {
    // The Paeth image is larger so that ties between its candidates (pb = pc, b ≠ c), whose winner the
    // spec fixes, occur in the noise.
    for (const [filters, width, height] of [
      [[0], 13, 9],
      [[1], 13, 9],
      [[2], 13, 9],
      [[3], 13, 9],
      [[4], 64, 48],
      [[4, 3, 2, 1, 0], 13, 9],
    ] as const) {
      const pixels = noise(width * height * channels, 7 + filters[0]! + channels);
      const decoded = decodePng(encodePng(width, height, channels, pixels, filters));
      const what = `channels ${channels}, filters ${filters}`;
      assert.equal(decoded.width, width, what);
      assert.equal(decoded.height, height, what);
      assert.equal(decoded.channels, channels, what);
      assert.deepEqual(decoded.data, pixels, what);
    }
  }
});

test('refuses what it cannot read, naming the file', () => {
  assert.throws(() => decodePng(new Uint8Array([1, 2, 3]), 'shot.png'), /shot.png: not a PNG file/);
  const png = encodePng(2, 2, 3, noise(12, 1), [0]);
  const sixteenBit = Buffer.from(png);
  sixteenBit[8 + 8 + 8] = 16; // IHDR bit depth
  assert.throws(() => decodePng(sixteenBit, 'shot.png'), /shot.png: only 8-bit RGB\/RGBA .*bit depth 16/);
});
