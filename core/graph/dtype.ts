/** Element types the engine builds graphs over, and their ONNX / typed-array counterparts. */
import { onnx } from './onnxProto.ts';

/**
 * float16 holds weights stored at half precision (IEEE binary16, as bits in a Uint16Array, the array ORT
 * takes for it); graphs compute in float32 around it.
 */
export type DType = 'float32' | 'float64' | 'float16' | 'int64' | 'bool';

export const FLOAT_DTYPES: readonly DType[] = ['float32', 'float64', 'float16'];

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}

export function onnxElemType(dtype: DType): number {
  switch (dtype) {
    case 'float32':
      return onnx.TensorProto.DataType.FLOAT;
    case 'float64':
      return onnx.TensorProto.DataType.DOUBLE;
    case 'float16':
      return onnx.TensorProto.DataType.FLOAT16;
    case 'int64':
      return onnx.TensorProto.DataType.INT64;
    case 'bool':
      return onnx.TensorProto.DataType.BOOL;
  }
}

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'float16'
      ? Uint16Array
      : D extends 'int64'
        ? BigInt64Array
        : Uint8Array;

export type HostArray = Float32Array | Float64Array | Uint16Array | BigInt64Array | Uint8Array;

/** Bytes per element as stored (bool: one byte). */
export function dtypeBytes(dtype: DType): number {
  return { float32: 4, float64: 8, float16: 2, int64: 8, bool: 1 }[dtype];
}

/** The typed array ORT uses for a dtype (bool is one byte per element). */
export function allocate(dtype: DType, size: number): HostArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'float16':
      return new Uint16Array(size);
    case 'int64':
      return new BigInt64Array(size);
    case 'bool':
      return new Uint8Array(size);
  }
}

export function fromNumbers(dtype: DType, values: ArrayLike<number | bigint>): HostArray {
  const out = allocate(dtype, values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (dtype === 'int64') (out as BigInt64Array)[i] = BigInt(v);
    else if (dtype === 'bool') (out as Uint8Array)[i] = v ? 1 : 0;
    else if (dtype === 'float16') (out as Uint16Array)[i] = float16Bits(Number(v));
    else (out as Float32Array | Float64Array)[i] = Number(v);
  }
  return out;
}

export function dtypeOfArray(data: HostArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Uint16Array) return 'float16';
  if (data instanceof BigInt64Array) return 'int64';
  return 'bool';
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The binary16 nearest to a number (first rounded to float32, as a float32 tensor would be), ties to
 * even: overflow gives ±inf, tiny values subnormals or ±0, NaN stays NaN. The bits ORT's Cast produces.
 */
export function float16Bits(value: number): number {
  f32[0] = value;
  return float16BitsOf(u32[0]);
}

/** float16Bits of a float32 given as its bits (what toFloat16 reads straight from the array's memory). */
function float16BitsOf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal: the implicit 1 joins the mantissa, shifted into place with round-to-nearest-even.
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to inf: what binary16 rounding does.
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** float32 values as binary16 bits (read as their bits: no number round trip per value). */
export function toFloat16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16BitsOf(bits[i]);
  return out;
}

/** IEEE 754 binary16 → number (exact: every half is representable in float32). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
