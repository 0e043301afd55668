/**
 * Where bench:update's step goes, and how close it is to the machine's GEMM rate (issue 24):
 * - the host's parts of each timed step (packing feeds, zeroing the gradient sums, onnxruntime's runs,
 *   the global norm, AdamW), measured inside the real PolicyUpdater (UpdateContext.timings);
 * - inside one run of the same gradient graph in a profiling session with the trainer's options: ORT's
 *   model_run against session.run's wall time (the binding's share: wrapping feeds, copying every output
 *   — the gradients — into JS memory), and kernel time by op type, the matmuls apart;
 * - onnxruntime's MatMul rate on each matmul shape of that run, measured in the same process, each shape
 *   alone: the step's matmuls at those rates take `gemmMs`, and gemmEfficiency = gemmMs / stepMs (the
 *   step's matmul FLOPs / the step's time / the rate at which onnxruntime runs them).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  Executable,
  Graph,
  buildGradStep,
  dtypeOfArray,
  names,
  op,
  serialize,
  zeroGrads,
} from '../../core/graph/index.ts';
import type { Feeds, HostTensor, RecomputeGranularity } from '../../core/graph/index.ts';
import type { Qwen2Config } from '../../core/model/config.ts';
import type { RlAlgorithmConfig } from '../../core/config/rl.ts';
import { lossNormalizer } from '../../core/rl/lossGraph.ts';
import { buildPolicyLoss, lossInputs } from '../../core/train/policyLossGraph.ts';
import { policyLossOptions } from '../../core/train/policyUpdate.ts';
import { lossTokenCount, packRows } from '../../core/train/rolloutBatch.ts';
import type { RolloutRow } from '../../core/train/rolloutBatch.ts';

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  ts: number;
  args?: {
    op_name?: string;
    input_type_shape?: Record<string, number[]>[];
    output_type_shape?: Record<string, number[]>[];
  };
}

/** One matmul kernel's problem: batch × [M, K] · [K, N], B shared across the batch or not. */
interface GemmShape {
  batch: number;
  m: number;
  k: number;
  n: number;
  batchedB: boolean;
}

const GEMM_OPS = new Set(['MatMul', 'FusedMatMul', 'Gemm']);
const dimsOf = (t: Record<string, number[]> | undefined) => (t ? (Object.values(t)[0] ?? []) : []);
const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** The problem of a MatMul/FusedMatMul/Gemm event, from its shapes (transposes give the same M·K). */
function gemmShape(e: ProfileEvent): GemmShape {
  const [a, b] = (e.args?.input_type_shape ?? []).map(dimsOf);
  const out = dimsOf(e.args?.output_type_shape?.[0]);
  const m = out[out.length - 2];
  const n = out[out.length - 1];
  const k = (a[a.length - 1] * a[a.length - 2]) / m;
  return { batch: prod(out.slice(0, -2)), m, k, n, batchedB: prod(b.slice(0, -2)) > 1 };
}

const flops = (s: GemmShape) => 2 * s.batch * s.m * s.k * s.n;
const keyOf = (s: GemmShape) => `${s.batch}x${s.m}x${s.k}x${s.n}${s.batchedB ? 'b' : ''}`;

/** onnxruntime's MatMul on `s` alone, at `threads`: GFLOP/s of the best of several runs. */
async function matmulRate(s: GemmShape, threads: number): Promise<number> {
  const g = new Graph('gemmRate');
  const aDims = s.batchedB ? [s.batch, s.m, s.k] : [s.batch * s.m, s.k];
  const bDims = s.batchedB ? [s.batch, s.k, s.n] : [s.k, s.n];
  const a = g.input('a', 'float32', aDims);
  const b = g.input('b', 'float32', bDims);
  g.output(op.matmul(a, b), 'c');
  const exec = await Executable.compile(g, { intraOpThreads: threads, memoryArena: false });
  const fill = (dims: number[]): HostTensor => ({ data: new Float32Array(prod(dims)).fill(0.01), dims });
  const feeds = { a: fill(aDims), b: fill(bDims) };
  await exec.run(feeds);
  let best = Infinity;
  const start = performance.now();
  for (let i = 0; i < 3 || performance.now() - start < 300; i++) {
    const t0 = performance.now();
    await exec.run(feeds);
    best = Math.min(best, performance.now() - t0);
  }
  await exec.release();
  return flops(s) / best / 1e6;
}

export interface RunProfile {
  wallMs: number;
  modelRunMs: number;
  kernelMs: number;
  /** Kernel time by op type, the matmuls under "MatMul/Gemm". */
  byOp: Record<string, number>;
  gemmFlops: number;
  /** The run's matmuls at onnxruntime's own rate on each shape. */
  gemmRooflineMs: number;
  shapes: { shape: string; count: number; gflopPerS: number; stepMs: number; stepGflopPerS: number }[];
  /** The other kernels that took longest, by op type and output shape (the run's time outside matmuls). */
  slowestOthers: { node: string; count: number; ms: number }[];
}

/**
 * One run of the policy's accumulating gradient step (the graph PolicyUpdater compiles) on `rows`, in a
 * profiling session with the trainer's session options, then the MatMul rate of each of its shapes.
 */
export async function profileStep(
  config: Qwen2Config,
  algo: Parameters<typeof policyLossOptions>[1] & Pick<RlAlgorithmConfig, 'lossAgg'>,
  weights: Map<string, Float32Array>,
  rows: readonly RolloutRow[],
  threads: number,
  recompute: boolean | RecomputeGranularity = false,
): Promise<RunProfile> {
  // At temperature 1, as the bench's steps run and PolicyUpdater then builds the graph.
  const loss = buildPolicyLoss(config, { ...policyLossOptions(config, algo), unitTemperature: true });
  const graph = buildGradStep({ ...loss, recompute }, { accumulate: true });
  const dir = mkdtempSync(join(tmpdir(), 'update-profile-'));
  const session = await ort.InferenceSession.create(serialize(graph), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: false,
    extra: {
      session: { intra_op: { allow_spinning: '0' } },
      optimization: { disable_specified_optimizers: 'ConstantFolding' },
    },
    enableProfiling: true,
    profileFilePrefix: join(dir, 'update'),
  });
  const params: Record<string, HostTensor> = {};
  for (const p of loss.params) params[p.name] = { data: weights.get(p.name)!, dims: p.shape as number[] };
  const norm = lossNormalizer(rows.map(lossTokenCount), algo.lossAgg, undefined);
  const feeds: Feeds = {
    ...packRows(rows),
    [lossInputs.lossNorm]: { data: Float32Array.of(norm), dims: [] },
    [lossInputs.temperature]: { data: Float32Array.of(1), dims: [] },
    ...params,
  };
  for (const [name, t] of Object.entries(zeroGrads(params))) feeds[names.gradAcc(name)] = t;
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, f] of Object.entries(feeds))
    ortFeeds[name] = new ort.Tensor(dtypeOfArray(f.data), f.data as never, f.dims as number[]);
  await session.run(ortFeeds); // warm-up: the first run allocates and plans
  const t0 = performance.now();
  await session.run(ortFeeds);
  const wallMs = performance.now() - t0;
  session.endProfiling();
  await session.release();
  const file = readdirSync(dir).find((f) => f.endsWith('.json'));
  if (!file) throw new Error(`onnxruntime wrote no profile into ${dir}`);
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
  rmSync(dir, { recursive: true, force: true });
  const runs = events.filter((e) => e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  if (runs.length !== 2) throw new Error(`profile has ${runs.length} model_run events for 2 runs`);
  const last = runs[1];
  const kernels = events.filter(
    (e) =>
      e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= last.ts && e.ts <= last.ts + last.dur,
  );
  const byOp: Record<string, number> = {};
  const shapeCounts = new Map<string, { s: GemmShape; count: number; ms: number }>();
  const others = new Map<string, { count: number; ms: number }>();
  for (const e of kernels) {
    const opName = e.args?.op_name ?? '?';
    const key = GEMM_OPS.has(opName) ? 'MatMul/Gemm' : opName;
    byOp[key] = (byOp[key] ?? 0) + e.dur / 1000;
    if (!GEMM_OPS.has(opName)) {
      const node = `${opName} ${JSON.stringify(dimsOf(e.args?.output_type_shape?.[0]))}`;
      const entry = others.get(node) ?? { count: 0, ms: 0 };
      entry.count++;
      entry.ms += e.dur / 1000;
      others.set(node, entry);
      continue;
    }
    const s = gemmShape(e);
    const entry = shapeCounts.get(keyOf(s)) ?? { s, count: 0, ms: 0 };
    entry.count++;
    entry.ms += e.dur / 1000;
    shapeCounts.set(keyOf(s), entry);
  }
  let gemmFlops = 0;
  let gemmRooflineMs = 0;
  const shapes: RunProfile['shapes'] = [];
  for (const [shape, { s, count, ms }] of shapeCounts) {
    const rate = await matmulRate(s, threads);
    gemmFlops += flops(s) * count;
    gemmRooflineMs += (flops(s) * count) / rate / 1e6;
    shapes.push({
      shape,
      count,
      gflopPerS: Math.round(rate),
      stepMs: Math.round(ms),
      stepGflopPerS: Math.round((flops(s) * count) / ms / 1e6),
    });
  }
  return {
    wallMs,
    modelRunMs: last.dur / 1000,
    kernelMs: kernels.reduce((t, e) => t + e.dur / 1000, 0),
    byOp,
    gemmFlops,
    gemmRooflineMs,
    shapes,
    slowestOthers: [...others]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 20)
      .map(([node, { count, ms }]) => ({ node, count, ms: Math.round(ms) })),
  };
}
