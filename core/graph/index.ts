/**
 * core/graph — the tensor-graph engine: build ONNX graphs with symbolic shapes, differentiate them
 * (reverse mode, standard ops only), append AdamW, and run them on onnxruntime-node.
 */
export * from './dtype.ts';
export * from './dim.ts';
export { Graph, GraphError, Value, isFileRegion } from './graph.ts';
export type { Node, Attrs, AttrValue, TypeInfo, FileRegion } from './graph.ts';
export { grad } from './autodiff.ts';
export type { GradOptions } from './autodiff.ts';
export { checkpoint, keep, segmentsOf } from './recompute.ts';
export type { RecomputeGranularity, RecomputeSegment } from './recompute.ts';
export * from './adamw.ts';
export * from './hostAdamW.ts';
export * from './trainStep.ts';
export * from './optimizerState.ts';
export * from './serialize.ts';
export * from './session.ts';
export { collectGarbage } from './collectGarbage.ts';
export { definedOps, NOT_DIFFERENTIABLE } from './ops/registry.ts';
export * as op from './ops/builders.ts';
export * from './device.ts';
