/**
 * Encodes a Graph as an ONNX ModelProto (protobuf, via onnx-proto's generated protobufjs classes). Only
 * nodes that some output needs are written, so gradient rules may build terms a given graph never uses.
 */
import { createHash } from 'node:crypto';
import { basename, dirname } from 'node:path';
import { onnx } from './onnxProto.ts';
import type { HostArray } from './dtype.ts';
import { onnxElemType } from './dtype.ts';
import { isFileRegion, type AttrValue, type FileRegion, type Graph, type Node, type Value } from './graph.ts';
import { isSymbol } from './dim.ts';

/** ORT 1.30 accepts IR version ≤ 13; 8 is what opset 18 models need and every runtime since 1.14 reads. */
export const IR_VERSION = 8;
/** Opset 18: Reduce* take axes as inputs, Split takes num_outputs, Scatter* support reduction="add". */
export const OPSET = 18;

export function liveNodes(graph: Graph): Node[] {
  const needed = new Set<Value>(graph.outputs);
  const live: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    if (!node.outputs.some((o) => needed.has(o))) continue;
    live.push(node);
    for (const v of node.inputs) needed.add(v);
    for (const v of node.implicitInputs ?? []) needed.add(v);
  }
  return live.reverse();
}

/**
 * A value's type and shape. A graph's inputs name their symbols (`batch`); an intermediate may carry a
 * composite dim too (`batch*seq`), canonical, so equal polynomials give equal labels.
 */
function valueInfo(v: Value, composite = false): onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: onnxElemType(v.dtype),
        shape: {
          dim: v.shape.map((d) =>
            typeof d === 'number' ? { dimValue: d } : isSymbol(d) || composite ? { dimParam: d } : {},
          ),
        },
      },
    },
  };
}

function bytesOf(data: HostArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorProto(name: string, v: Value, data: HostArray | FileRegion): onnx.ITensorProto {
  const proto: onnx.ITensorProto = {
    name,
    dims: v.shape.map((d) => d as number),
    dataType: onnxElemType(v.dtype),
  };
  if (!isFileRegion(data)) return { ...proto, rawData: bytesOf(data) };
  // ONNX external data: the location is relative to the model file, which is written beside the weights.
  return {
    ...proto,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: basename(data.path) },
      { key: 'offset', value: String(data.offset) },
      { key: 'length', value: String(data.length) },
    ],
  };
}

/**
 * The files a graph's constants lie in (FileRegion), and the one folder that holds them all: onnxruntime
 * reads external data only from the model file's own folder, so that is where the model file must go.
 * Undefined when every constant is in the graph.
 */
export function externalDataFiles(graph: Graph): { dir: string; files: string[] } | undefined {
  const files = new Set<string>();
  for (const c of graph.constants) if (isFileRegion(c.data)) files.add(c.data.path);
  if (files.size === 0) return undefined;
  const dirs = new Set([...files].map((f) => dirname(f)));
  if (dirs.size > 1)
    throw new Error(`graph "${graph.name}": file constants lie in several folders (${[...dirs].join(', ')})`);
  return { dir: [...dirs][0], files: [...files].sort() };
}

function attribute(name: string, a: AttrValue): onnx.IAttributeProto | undefined {
  if (a.kind === 'graph')
    return { name, type: onnx.AttributeProto.AttributeType.GRAPH, g: graphProto(a.value) };
  if (name.startsWith('_')) return undefined; // build-time metadata, not part of ONNX
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor': {
      const arr =
        a.dtype === 'float32'
          ? new Float32Array([a.value])
          : a.dtype === 'float64'
            ? new Float64Array([a.value])
            : a.dtype === 'int64'
              ? new BigInt64Array([BigInt(a.value)])
              : new Uint8Array([a.value ? 1 : 0]);
      return {
        name,
        type: T.TENSOR,
        t: { dims: [1], dataType: onnxElemType(a.dtype), rawData: bytesOf(arr) },
      };
    }
  }
}

/**
 * A graph (the model's, or a Loop body) as a GraphProto. A body's captured outer values are neither its
 * inputs nor its initializers: ONNX resolves them by name in the enclosing scope.
 */
function graphProto(graph: Graph): onnx.IGraphProto {
  const nodes = liveNodes(graph);
  const used = new Set<Value>(graph.outputs);
  for (const n of nodes) for (const v of [...n.inputs, ...(n.implicitInputs ?? [])]) used.add(v);
  return {
    name: graph.name,
    input: graph.inputs.map((v) => valueInfo(v)),
    output: graph.outputs.map((v) => valueInfo(v)),
    // Every intermediate's shape as our inference knows it. onnxruntime's own inference loses symbolic
    // dims at each Reshape or Expand to a computed shape, and its memory planner reuses a buffer (a freed
    // one, or an input in place: ScatterElements' data) only between shapes it can prove equal.
    valueInfo: nodes
      .flatMap((n) => n.outputs)
      .filter((v) => !graph.outputs.includes(v) && used.has(v))
      .map((v) => valueInfo(v, true)),
    initializer: graph.constants
      .filter((c) => used.has(c.value))
      .map((c) => tensorProto(c.value.name, c.value, c.data)),
    node: nodes.map((n) => ({
      name: n.name,
      opType: n.op,
      input: n.inputs.map((v) => v.name),
      output: n.outputs.map((v) => v.name),
      attribute: Object.entries(n.attrs)
        .map(([k, a]) => attribute(k, a))
        .filter((a): a is onnx.IAttributeProto => a !== undefined),
    })),
  };
}

export function toModelProto(graph: Graph): onnx.IModelProto {
  if (graph.parent) throw new Error(`graph "${graph.name}" is a subgraph: serialize the graph enclosing it`);
  return {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'reasonloop',
    graph: graphProto(graph),
  };
}

export function serialize(graph: Graph): Uint8Array {
  if (graph.outputs.length === 0) throw new Error(`graph "${graph.name}" has no outputs`);
  return onnx.ModelProto.encode(toModelProto(graph)).finish();
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
