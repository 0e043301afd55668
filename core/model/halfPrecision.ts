/**
 * float32 → bfloat16 / float16 as PyTorch's `tensor.to(dtype)` rounds on the CPU: round to nearest, ties to
 * even. Exported checkpoints are written at half precision tensor by tensor, so the conversion works on one
 * tensor's float32 values and returns the little-endian bytes a safetensors file holds.
 * test/fixtures/halfPrecision (made by scripts/python/make_half_fixture.py with torch) pins the bits.
 */
import { float16Bits } from '../graph/dtype.ts';

/** The element types a safetensors file can be written in, and their byte widths. */
export type StoredDtype = 'F32' | 'F16' | 'BF16';
export const STORED_DTYPE_BYTES: Record<StoredDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** transformers' names (`torch_dtype` in config.json) of the stored dtypes. */
export const TORCH_DTYPE_NAMES: Record<StoredDtype, string> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
};

/** A torch dtype name (bfloat16, float16, float32) as the safetensors dtype; an error names the choices. */
export function storedDtypeOf(torchName: string): StoredDtype {
  const found = (Object.keys(TORCH_DTYPE_NAMES) as StoredDtype[]).find(
    (d) => TORCH_DTYPE_NAMES[d] === torchName,
  );
  if (!found) {
    throw new Error(
      `dtype ${JSON.stringify(torchName)}: use one of ${Object.values(TORCH_DTYPE_NAMES).join(', ')}`,
    );
  }
  return found;
}

/**
 * torch's CPU cast (`tensor.to(torch.bfloat16)`, ATen's vectorized float→bfloat16) writes every NaN as
 * 0xFFFF, checked with torch 2.15 (the scalar c10::BFloat16 constructor would give 0x7FC0; both are NaN).
 */
const BF16_NAN = 0xffff;

/**
 * The bfloat16 nearest to a float32 given as its bits, ties to even: add 0x7FFF plus the lowest kept bit,
 * then truncate. A carry runs into the exponent, so the largest finite values round up to ±inf as torch's do.
 */
export function bfloat16BitsOf(f32Bits: number): number {
  const x = f32Bits >>> 0;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return BF16_NAN;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 values as the bytes of `dtype` (a view of the same memory for F32: no copy). */
export function encodeFloat32As(values: Float32Array, dtype: StoredDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < bits.length; i++) out[i] = bfloat16BitsOf(bits[i]);
  } else {
    for (let i = 0; i < values.length; i++) out[i] = float16Bits(values[i]);
  }
  return new Uint8Array(out.buffer);
}
