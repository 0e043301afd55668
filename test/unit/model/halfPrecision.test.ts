/** float32 → bfloat16 / float16 rounding, bit for bit against what torch wrote (test/fixtures/halfPrecision). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bfloat16BitsOf, encodeFloat32As, storedDtypeOf } from '../../../core/model/halfPrecision.ts';
import { SafetensorsReader } from '../../../core/model/safetensors.ts';

const FIXTURE = fileURLToPath(new URL('../../fixtures/halfPrecision/rounding.safetensors', import.meta.url));

/** The raw stored bytes of one tensor of the fixture. */
function rawBytes(reader: SafetensorsReader, name: string): Buffer {
  const info = reader.info(name);
  return readFileSync(FIXTURE).subarray(info.begin, info.end);
}

test('bfloat16 rounding: ties to even, carries into the exponent, every NaN as the CPU cast of torch (known vectors)', () => {
  assert.equal(bfloat16BitsOf(0x3f800000), 0x3f80); // 1.0 exactly
  assert.equal(bfloat16BitsOf(0x3f808000), 0x3f80); // tie, kept bit even: down
  assert.equal(bfloat16BitsOf(0x3f818000), 0x3f82); // tie, kept bit odd: up
  assert.equal(bfloat16BitsOf(0x3f808001), 0x3f81); // just above the tie: up
  assert.equal(bfloat16BitsOf(0x3f807fff), 0x3f80); // just below: down
  assert.equal(bfloat16BitsOf(0x7f7fffff), 0x7f80); // float32 max rounds to +inf
  assert.equal(bfloat16BitsOf(0xff800000), 0xff80); // -inf stays
  assert.equal(bfloat16BitsOf(0x80000000), 0x8000); // -0 stays
  assert.equal(bfloat16BitsOf(0xffc00001), 0xffff); // any NaN: torch's CPU cast writes 0xFFFF
});

test('encodeFloat32As matches torch .to(bfloat16) and .to(float16) on every fixture value', () => {
  const reader = SafetensorsReader.open(FIXTURE);
  try {
    const f32 = reader.read('f32');
    assert.ok(f32.length > 10_000, `${f32.length} values`);
    for (const [dtype, name] of [
      ['BF16', 'bf16'],
      ['F16', 'f16'],
    ] as const) {
      const ours = Buffer.from(encodeFloat32As(f32, dtype));
      const torch = rawBytes(reader, name);
      if (!ours.equals(torch)) {
        const a = new Uint16Array(ours.buffer, ours.byteOffset, f32.length);
        const b = new Uint16Array(torch.buffer.slice(torch.byteOffset, torch.byteOffset + torch.length));
        const i = a.findIndex((v, k) => v !== b[k]);
        const bits = new Uint32Array(f32.buffer)[i].toString(16);
        assert.fail(
          `${dtype} differs at ${i} (f32 bits 0x${bits}): ours 0x${a[i].toString(16)}, torch 0x${b[i].toString(16)}`,
        );
      }
    }
    // F32 is the same memory, not a copy.
    assert.equal(encodeFloat32As(f32, 'F32').buffer, f32.buffer);
  } finally {
    reader.close();
  }
});

test('storedDtypeOf takes torch names and names the choices otherwise', () => {
  assert.equal(storedDtypeOf('bfloat16'), 'BF16');
  assert.equal(storedDtypeOf('float16'), 'F16');
  assert.equal(storedDtypeOf('float32'), 'F32');
  assert.throws(() => storedDtypeOf('fp8'), {
    message: 'dtype "fp8": use one of float32, float16, bfloat16',
  });
});
