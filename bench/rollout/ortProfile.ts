/**
 * Where a decode step's time goes inside onnxruntime: the decode graph in a session with the options
 * core/graph/session.ts uses (copied: they are not exported) plus ORT's own profiler, whose per-kernel
 * times are grouped into the parts an optimiser cares about (weight GEMMs, attention, KV-cache copies).
 * The wall time of `session.run` seen from JS minus ORT's own `model_run` time is the binding's share:
 * wrapping the feeds and copying every output (the whole grown KV cache) into JS memory.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { serialize } from '../../core/graph/index.ts';
import type { Feeds, HostArray, Results } from '../../core/graph/index.ts';
import type { Qwen2Config } from '../../core/model/config.ts';
import { buildQwen2Decode } from '../../core/model/qwen2.ts';
import type { DecodeRunner } from './instrumentedLoop.ts';

export const KERNEL_CATEGORIES = [
  'lmHead',
  'projections',
  'attentionMatMul',
  'kvConcat',
  'repeatKvExpand',
  'presentIdentity',
  'other',
] as const;
export type KernelCategory = (typeof KERNEL_CATEGORIES)[number];

/** What each category holds, for the printed breakdown. */
export const CATEGORY_MEANING: Record<KernelCategory, string> = {
  lmHead: 'lm_head GEMM [B,hidden]×[hidden,vocab]',
  projections: 'q/k/v/o + gate/up/down GEMMs',
  attentionMatMul: 'QKᵀ and PV matmuls',
  kvConcat: 'Concat past+new keys/values (copies the whole cache)',
  repeatKvExpand: 'Expand of keys/values for GQA (repeat_kv: copies the cache ×heads/kvHeads)',
  presentIdentity: 'Identity feeding the present.* outputs (another cache copy)',
  other: 'norms, RoPE, softmax, mask, reshapes',
};

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] };
}

function outputDims(e: ProfileEvent): number[] {
  const first = e.args?.output_type_shape?.[0];
  return first ? (Object.values(first)[0] ?? []) : [];
}

/** The part of a decode step a kernel belongs to, from its op type, scope and output shape. */
export function kernelCategory(e: ProfileEvent, c: Qwen2Config): KernelCategory {
  const op = e.args?.op_name ?? '';
  const dims = outputDims(e);
  if (op === 'MatMul' || op === 'FusedMatMul' || op === 'Gemm') {
    if (dims[dims.length - 1] === c.vocabSize && !e.name.startsWith('layers.')) return 'lmHead';
    return dims.length === 4 ? 'attentionMatMul' : 'projections';
  }
  // The RoPE rotate_half Concat has one new position; the cache Concat has past + new (> 1) positions.
  if (op === 'Concat' && dims.length === 4 && dims[1] === c.numKeyValueHeads && dims[2] > 1)
    return 'kvConcat';
  if (op === 'Expand' && dims.length === 5) return 'repeatKvExpand';
  if (op === 'Identity' && dims.length === 4) return 'presentIdentity';
  return 'other';
}

export interface ProfileSummary {
  runs: number;
  /** ORT's model_run, summed over the decode runs (the first run, the prefill, is left out). */
  decodeOrtMs: number;
  /** session.run as JS sees it, summed over the same runs. */
  decodeWallMs: number;
  decodeKernelMs: Record<KernelCategory, number>;
  prefillOrtMs: number;
}

const ORT_TYPE: Record<string, ort.Tensor.Type> = {
  Float32Array: 'float32',
  Float64Array: 'float64',
  BigInt64Array: 'int64',
  Uint8Array: 'bool',
};

/** A profiling session over the decode graph; `finish` ends profiling and summarises the recorded runs. */
export async function profilingRunner(
  c: Qwen2Config,
  threads: number,
  weights: Map<string, Float32Array>,
): Promise<{ runner: DecodeRunner; finish(): Promise<ProfileSummary> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rollout-profile-'));
  const session = await ort.InferenceSession.create(
    serialize(buildQwen2Decode(c, 'float32', weights).graph),
    {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: '0' } } },
      enableProfiling: true,
      profileFilePrefix: join(dir, 'decode'),
    },
  );
  const wallMs: number[] = [];
  const runner: DecodeRunner = async (feeds: Feeds) => {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds))
      ortFeeds[name] = new ort.Tensor(ORT_TYPE[f.data.constructor.name], f.data as never, f.dims as number[]);
    const t0 = performance.now();
    const out = await session.run(ortFeeds);
    wallMs.push(performance.now() - t0);
    const results: Results = {};
    for (const [name, t] of Object.entries(out)) results[name] = { data: t.data as HostArray, dims: t.dims };
    return results;
  };
  async function finish(): Promise<ProfileSummary> {
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error(`onnxruntime wrote no profile into ${dir}`);
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
    rmSync(dir, { recursive: true, force: true });
    const runs = events.filter((e) => e.name === 'model_run').sort((a, b) => a.ts - b.ts);
    if (runs.length !== wallMs.length)
      throw new Error(`profile has ${runs.length} model_run events for ${wallMs.length} runs`);
    const decodeKernelMs = Object.fromEntries(KERNEL_CATEGORIES.map((k) => [k, 0])) as Record<
      KernelCategory,
      number
    >;
    const decodeStart = runs[1]?.ts ?? Infinity;
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < decodeStart) continue;
      decodeKernelMs[kernelCategory(e, c)] += e.dur / 1000;
    }
    return {
      runs: runs.length,
      prefillOrtMs: runs[0].dur / 1000,
      decodeOrtMs: runs.slice(1).reduce((s, r) => s + r.dur / 1000, 0),
      decodeWallMs: wallMs.slice(1).reduce((s, x) => s + x, 0),
      decodeKernelMs,
    };
  }
  return { runner, finish };
}
