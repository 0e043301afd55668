/** Element types the engine builds graphs over, and their ONNX / typed-array counterparts. */
import { onnx } from './onnxProto.ts';

export type DType = 'float32' | 'float64' | 'int64' | 'bool';

export const FLOAT_DTYPES: readonly DType[] = ['float32', 'float64'];

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

export function onnxElemType(dtype: DType): number {
  switch (dtype) {
    case 'float32':
      return onnx.TensorProto.DataType.FLOAT;
    case 'float64':
      return onnx.TensorProto.DataType.DOUBLE;
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
    : D extends 'int64'
      ? BigInt64Array
      : Uint8Array;

export type HostArray = Float32Array | Float64Array | BigInt64Array | Uint8Array;

/** The typed array ORT uses for a dtype (bool is one byte per element). */
export function allocate(dtype: DType, size: number): HostArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
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
    else (out as Float32Array | Float64Array)[i] = Number(v);
  }
  return out;
}

export function dtypeOfArray(data: HostArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  return 'bool';
}
