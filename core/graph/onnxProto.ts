/** onnx-proto is CommonJS; this re-exports its `onnx` namespace (value and types) for ESM callers. */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

export const onnx: typeof OnnxTypes = (onnxProto as unknown as { onnx: typeof OnnxTypes }).onnx;
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace onnx {
  export type IModelProto = OnnxTypes.IModelProto;
  export type IValueInfoProto = OnnxTypes.IValueInfoProto;
  export type ITensorProto = OnnxTypes.ITensorProto;
  export type IAttributeProto = OnnxTypes.IAttributeProto;
  export type IGraphProto = OnnxTypes.IGraphProto;
}
