/**
 * onnxruntime-node sessions for generated graphs: cached by the sha256 of the serialized model (the same
 * graph built twice compiles once), with session options suited to small CPU machines, and feeds checked
 * against the graph's declared inputs so a wrong feed fails with the input's name, not inside ORT.
 */
import { createHash, randomUUID } from 'node:crypto';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Device } from './device.ts';
import { applyTf32Setting, CPU_DEVICE, deviceKey, withDevice } from './device.ts';
import type { DType, HostArray } from './dtype.ts';
import { dtypeOfArray } from './dtype.ts';
import type { Graph, Value } from './graph.ts';
import { evalDim, formatShape, isSymbol } from './dim.ts';
import { externalDataFiles, serialize, toModelProto } from './serialize.ts';
import { onnx } from './onnxProto.ts';

export interface SessionConfig {
  /** Intra-op threads. One beat two for ≈1M-parameter models on 2-core machines (DESIGN.md §4). */
  intraOpThreads?: number;
  /** Spinning threads burn a core between runs; off by default so other work (Temporal, Python) runs. */
  allowSpinning?: boolean;
  /** ORT graph optimization level; 'all' fuses Transpose+MatMul and element-wise chains. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** CPU (default) or one CUDA GPU; call checkDevice() before a run so a missing GPU fails up front. */
  device?: Device;
  /**
   * onnxruntime's CPU arena keeps the largest set of intermediates a run ever needed (rounded up) for the
   * session's life; off, each is returned to the system when freed. The trainer turns it off: its backward's
   * peak would otherwise stay resident between steps (docs/model.md, "Memory estimate").
   */
  memoryArena?: boolean;
  /**
   * onnxruntime's ConstantFolding pass. Off, nodes whose inputs are all constants run at each run instead of
   * once at load. The trainer turns it off: its gradient graph starts two [vocab, hidden] sums from zeros
   * (ConstantOfShape), which folding would make initializers held for the session's life, built through
   * twice their size at load (docs/model.md, "Memory estimate"). The same kernels compute the values.
   */
  constantFolding?: boolean;
}

export const DEFAULT_SESSION_CONFIG: Required<SessionConfig> = {
  intraOpThreads: 1,
  allowSpinning: false,
  optimization: 'all',
  device: CPU_DEVICE,
  memoryArena: true,
  constantFolding: true,
};

export interface HostTensor {
  data: HostArray;
  dims: readonly number[];
}

export type Feeds = Record<string, HostTensor>;
export type Results = Record<string, HostTensor>;

/** Sessions by model hash and options, with how many Executables hold each (released at 0). */
const cache = new Map<string, { session: Promise<ort.InferenceSession>; holders: number }>();

function sessionOptions(
  cfg: Required<SessionConfig>,
  weightsApart = false,
): ort.InferenceSession.SessionOptions {
  const extra: Record<string, unknown> = {
    session: { intra_op: { allow_spinning: cfg.allowSpinning ? '1' : '0' } },
  };
  // Constant folding would turn each Transpose(W) → MatMul into a second, transposed copy of W in memory;
  // without it onnxruntime fuses the pair into one MatMul on W transposed and pre-packs W (from the mapped
  // file, or its copy of the caller's arrays): one copy fewer (docs/benchmarks.md, bench:load).
  if (weightsApart || !cfg.constantFolding)
    extra.optimization = { disable_specified_optimizers: 'ConstantFolding' };
  return withDevice(
    {
      intraOpNumThreads: cfg.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: cfg.optimization,
      enableCpuMemArena: cfg.memoryArena,
      extra: extra as ort.InferenceSession.SessionOptions['extra'],
    },
    cfg.device,
  );
}

/** Constants from this size up are weights: they travel beside the protobuf, not inside it. */
const IN_MEMORY_WEIGHT_BYTES = 1 << 20;

/**
 * The model with its large constants (weights compiled in) as in-memory external data: the protobuf
 * stays small, so the weights are not copied into it and then parsed into onnxruntime's copy of it
 * (docs/benchmarks.md, bench:load: 8.1 → 4.8 GiB for the 0.5B shape's session, arrays held by the caller).
 */
function serializeWeightsApart(graph: Graph): {
  bytes: Uint8Array;
  inMemory: { path: string; data: Uint8Array }[];
} {
  const proto = toModelProto(graph);
  const inMemory: { path: string; data: Uint8Array }[] = [];
  for (const t of proto.graph?.initializer ?? []) {
    const raw = t.rawData;
    if (!(raw instanceof Uint8Array) || raw.byteLength < IN_MEMORY_WEIGHT_BYTES) continue;
    const path = `weights/${inMemory.length}`;
    inMemory.push({ path, data: raw });
    t.rawData = undefined;
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: 'location', value: path },
      { key: 'offset', value: '0' },
      { key: 'length', value: String(raw.byteLength) },
    ];
  }
  return { bytes: inMemory.length ? onnx.ModelProto.encode(proto).finish() : serialize(graph), inMemory };
}

/** Size, modification time and inode of each file: a rewritten weight file compiles a new session. */
function filesKey(files: readonly string[]): string {
  return files
    .map((f) => {
      const s = statSync(f);
      return `${s.size}.${s.mtimeMs}.${s.ino}`;
    })
    .join(',');
}

/**
 * A session for a model whose weights are external data in files of `dir`: onnxruntime 1.30 reads external
 * data only from the model file's own folder (absolute locations are refused, symlinks resolved and
 * refused when they leave it), so the graph (weights excluded: well under a megabyte) is written there
 * under a unique hidden name for the time of the load, then removed.
 */
async function createBesideWeights(
  bytes: Uint8Array,
  dir: string,
  options: ort.InferenceSession.SessionOptions,
): Promise<ort.InferenceSession> {
  const path = join(dir, `.reasonloop-graph-${process.pid}-${randomUUID()}.onnx`);
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw new Error(`cannot write the graph file beside the weights in ${dir}: ${(e as Error).message}`);
  }
  try {
    return await ort.InferenceSession.create(path, options);
  } finally {
    rmSync(path, { force: true });
  }
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int64: 'int64',
  bool: 'bool',
};

/** A compiled graph: run it with host arrays by input name; get host arrays by output name. */
export class Executable {
  private constructor(
    readonly key: string,
    private readonly session: ort.InferenceSession,
    private readonly inputs: readonly Value[],
    readonly outputNames: readonly string[],
  ) {}

  static async compile(graph: Graph, config: SessionConfig = {}): Promise<Executable> {
    const cfg = { ...DEFAULT_SESSION_CONFIG, ...config };
    const external = externalDataFiles(graph);
    // On CUDA the weights stay inside the protobuf: the split is measured on the CPU provider only.
    const { bytes, inMemory } =
      external || cfg.device.kind !== 'cpu'
        ? { bytes: serialize(graph), inMemory: [] }
        : serializeWeightsApart(graph);
    const hash = createHash('sha256').update(bytes);
    for (const m of inMemory) hash.update(m.data);
    const key = `${hash.digest('hex')}${external ? `:${filesKey(external.files)}` : ''}:${cfg.intraOpThreads}:${cfg.allowSpinning}:${cfg.optimization}:${deviceKey(cfg.device)}:arena=${cfg.memoryArena}:fold=${cfg.constantFolding}`;
    let entry = cache.get(key);
    if (!entry) {
      // Before the CUDA provider creates its cuBLAS handles, which read the TF32 switch.
      applyTf32Setting(cfg.device);
      const created = external
        ? createBesideWeights(bytes, external.dir, sessionOptions(cfg, true))
        : ort.InferenceSession.create(bytes, {
            ...sessionOptions(cfg, inMemory.length > 0),
            ...(inMemory.length > 0 ? { externalData: inMemory } : {}),
          });
      entry = { session: created, holders: 0 };
      cache.set(key, entry);
      created.catch(() => cache.delete(key));
    }
    entry.holders++;
    let session: ort.InferenceSession;
    try {
      session = await entry.session;
    } catch (e) {
      throw new Error(`onnxruntime refused graph "${graph.name}": ${(e as Error).message}`);
    }
    return new Executable(
      key,
      session,
      [...graph.inputs],
      graph.outputs.map((o) => o.name),
    );
  }

  /**
   * `into` names outputs to be written into the caller's arrays (same dtype and size) instead of fresh ones:
   * onnxruntime computes them there. An `into` array may also be a feed when the output's only reader of that
   * feed is the node that writes it (an element-wise update such as acc + g). onnxruntime-node still hands
   * back a copy of each such output; it is dropped here, so it lives only until the next collection (which the
   * trainer runs at once: collectGarbage.ts).
   */
  async run(
    feeds: Feeds,
    outputs: readonly string[] = this.outputNames,
    into: Results = {},
  ): Promise<Results> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    const symbols = new Map<string, number>();
    for (const input of this.inputs) {
      const f = feeds[input.name];
      if (!f)
        throw new Error(`missing feed for input "${input.name}" (${input.dtype}${formatShape(input.shape)})`);
      checkFeed(input, f, symbols);
      ortFeeds[input.name] = ortTensor(input.dtype, f);
    }
    for (const name of Object.keys(feeds))
      if (!this.inputs.some((i) => i.name === name)) throw new Error(`unknown feed "${name}"`);
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const name of outputs) {
      const target = into[name];
      fetches[name] = target ? ortTensor(dtypeOfArray(target.data), target) : null;
    }
    const preallocated = Object.keys(into).length > 0;
    const out = await this.session.run(
      ortFeeds,
      preallocated ? (fetches as ort.InferenceSession.FetchesType) : (outputs as string[]),
    );
    const results: Results = {};
    for (const name of outputs) {
      const t = out[name];
      results[name] = into[name] ?? { data: hostData(t), dims: t.dims };
    }
    return results;
  }

  /** Frees the session and drops it from the cache. */
  /** Gives up this handle; the session is freed when no other Executable of the same graph holds it. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const entry = cache.get(this.key);
    if (entry && --entry.holders > 0) return;
    cache.delete(this.key);
    await this.session.release();
  }

  private released = false;
}

/**
 * A feed as an ORT tensor. Where the runtime has Float16Array (Node ≥ 24), onnxruntime-common wraps float16
 * bits in one, which onnxruntime-node 1.30's native binding cannot read ("not enough space: expected N,
 * got 0"): the tensor keeps the Uint16Array it was given.
 */
function ortTensor(dtype: DType, f: HostTensor): ort.Tensor {
  const t = new ort.Tensor(ORT_TYPE[dtype], f.data as never, f.dims as number[]);
  if (dtype === 'float16' && !(t.data instanceof Uint16Array))
    (t as unknown as { cpuData: HostArray }).cpuData = f.data;
  return t;
}

/** An output's data as the engine's host array: float16 as its bits, whatever view ORT returns. */
function hostData(t: ort.Tensor): HostArray {
  const d = t.data as ArrayBufferView;
  if (t.type === 'float16' && !(d instanceof Uint16Array))
    return new Uint16Array(d.buffer, d.byteOffset, d.byteLength / 2);
  return d as HostArray;
}

function checkFeed(input: Value, f: HostTensor, symbols: Map<string, number>): void {
  const got = dtypeOfArray(f.data);
  if (got !== input.dtype) throw new Error(`feed "${input.name}": expected ${input.dtype}, got ${got}`);
  if (f.dims.length !== input.rank)
    throw new Error(
      `feed "${input.name}": expected rank ${input.rank} ${formatShape(input.shape)}, got ${formatShape(f.dims)}`,
    );
  const size = f.dims.reduce((a, b) => a * b, 1);
  if (size !== f.data.length)
    throw new Error(`feed "${input.name}": ${f.data.length} values for dims ${formatShape(f.dims)}`);
  input.shape.forEach((d, i) => {
    const n = f.dims[i];
    if (typeof d === 'number') {
      if (d !== n) throw new Error(`feed "${input.name}": dimension ${i} must be ${d}, got ${n}`);
    } else if (!isSymbol(d)) {
      const want = evalDim(d, Object.fromEntries(symbols));
      if (want !== n)
        throw new Error(`feed "${input.name}": dimension ${i} ("${d}") must be ${want}, got ${n}`);
    } else {
      const seen = symbols.get(d);
      if (seen !== undefined && seen !== n)
        throw new Error(
          `feed "${input.name}": dimension ${i} ("${d}") is ${n}, but another input has ${d}=${seen}`,
        );
      symbols.set(d, n);
    }
  });
}

export function clearSessionCache(): void {
  cache.clear();
}
