/**
 * One RL update step of a real-shape policy outside any workflow, in a process of its own so its peak RSS
 * is the step's: the model dir's weights (full-parameter AdamW, or LoRA adapters on the frozen base), a
 * GRPO batch of `rows` × (`prompt` + `response`) tokens cut into micro-batches, log-probs split as `auto`
 * does (vocabulary slices at Qwen2.5's vocabulary), per-layer recomputation, then the trainer state
 * written as checkpoint files (streamed, tensor by tensor).
 * The same batch goes to PyTorch (bench_scale_torch.py) through `writeTorchBatch`. Last stdout line:
 * {"updateSeconds":…,"checkpointSeconds":…,"checkpointBytes":…,"updatePartsSeconds":{…},"peakRssGB":…,
 *  "phasePeakRssGB":{"load":…,"prepare":…,"update":…,"write":…},"loss":…,…}
 * The phases are updatePolicy's (core/metrics/phasePeaks.ts: the kernel's high-water mark, reset between
 * phases), `load` standing for its `reload`; peakRssGB is the largest. The resets lower what the process's
 * own maxRSS, and so /usr/bin/time's %M, report: read peakRssGB.
 *
 *   node --import tsx bench/scale/updateStep.ts --model DIR [--lora-rank 16] [--lora-base-dtype float16]
 *     [--rows 16] [--micro 4] [--prompt 64] [--response 256] [--threads 2] [--no-recompute | --selective]
 *
 * `--lora-base-dtype float16` holds the frozen base's matrices at half precision, read tensor by tensor
 * as the trainer worker reads them (algorithm.lora.baseDtype).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initOptimizerState } from '../../core/graph/index.ts';
import {
  loadModelDir,
  loadModelDirFiles,
  writeModelDir,
  type QwenModelDir,
} from '../../core/model/modelDir.ts';
import { openParameterReaders } from '../../core/model/parameterReaders.ts';
import { halfWeights } from '../../core/model/weightFeeds.ts';
import type { WeightDtype } from '../../core/model/weightDtype.ts';
import { initLoraWeights, loraParameterCount, loraParameters, type LoraSpec } from '../../core/model/lora.ts';
import { writePeftAdapter } from '../../core/model/peftAdapter.ts';
import { writeShardedSafetensors } from '../../core/model/safetensorsShards.ts';
import { qwen2ParameterCount, qwen2Parameters } from '../../core/model/parameters.ts';
import { parseRlAlgorithmConfig } from '../../core/config/rl.ts';
import { PolicyUpdater } from '../../core/train/policyUpdate.ts';
import { emptyStepTimings } from '../../core/train/trainSteps.ts';
import type { RolloutRow } from '../../core/train/rolloutBatch.ts';
import { uniformAt } from '../../core/random.ts';
import type { OptimizerState } from '../../core/graph/index.ts';
import { torchBatch } from '../torchBatch.ts';
import { phasePeaks } from '../../core/metrics/phasePeaks.ts';

export interface UpdateStepOptions {
  model: string;
  loraRank: number;
  /** The LoRA base's precision (float32 when absent). */
  loraBaseDtype?: WeightDtype;
  rows: number;
  micro: number;
  prompt: number;
  response: number;
  threads: number;
  /** algorithm.gradientCheckpointing: false, true (whole layers) or "selective". */
  recompute: boolean | 'selective';
}

export const LR = 1e-6;
export const LORA_ALPHA = 32;

/** GRPO-like rows: random tokens, old log-probs near a random model's (−log V), one advantage per row. */
export function benchRows(o: UpdateStepOptions, vocab: number): RolloutRow[] {
  return Array.from({ length: o.rows }, (_, b) => {
    const u = (t: number, stream: number) => uniformAt(18, stream, b, 0, t);
    const advantage = u(0, 3) - 0.5;
    return {
      promptIds: Array.from({ length: o.prompt }, (_, t) => Math.floor(u(t, 0) * vocab)),
      responseIds: Array.from({ length: o.response }, (_, t) => Math.floor(u(t, 1) * vocab)),
      oldLogprobs: Array.from({ length: o.response }, (_, t) => -Math.log(vocab) + (u(t, 2) - 0.5) * 0.6),
      sampled: Array.from({ length: o.response }, () => true),
      advantages: Array.from({ length: o.response }, () => advantage),
    };
  });
}

/** The batch as bench_scale_torch.py reads it (JSON rows of ids, masks, old log-probs, advantages). */
export function writeTorchBatch(path: string, rows: readonly RolloutRow[], o: UpdateStepOptions): void {
  writeFileSync(
    path,
    JSON.stringify({
      ...torchBatch(rows, LR),
      micro_batch: o.micro,
      lora_rank: o.loraRank,
      lora_alpha: LORA_ALPHA,
    }),
  );
}

const gb = (bytes: number) => Math.round((bytes / 1e9) * 100) / 100;

/** Bytes of every file below `dir`. */
function treeBytes(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((s, e) => s + statSync(join(e.parentPath, e.name)).size, 0);
}

/**
 * The trainer state's files as a checkpoint holds them (activities/trainerState.ts): the policy (an HF
 * model dir, or with LoRA the PEFT adapter dir) and AdamW's moments as sharded safetensors, each written
 * tensor by tensor; returns their bytes.
 */
function writeStateFiles(model: QwenModelDir, state: OptimizerState, lora?: LoraSpec): number {
  const dir = mkdtempSync(join(tmpdir(), 'bench-scale-state-'));
  try {
    const weights = new Map(Object.entries(state.params).map(([k, t]) => [k, t.data as Float32Array]));
    if (lora)
      writePeftAdapter(join(dir, 'adapter'), model.config, {
        spec: lora,
        adapters: weights,
        baseModelNameOrPath: null,
      });
    else writeModelDir(join(dir, 'weights'), { ...model, weights });
    const names = lora
      ? loraParameters(model.config, lora)
      : Object.keys(state.params).map((name) => ({ name }));
    const moments = names.flatMap(({ name }) => [
      { name: `m.${name}`, shape: [...state.m[name].dims], data: state.m[name].data as Float32Array },
      { name: `v.${name}`, shape: [...state.v[name].dims], data: state.v[name].data as Float32Array },
    ]);
    mkdirSync(join(dir, 'optimizer'));
    writeShardedSafetensors(join(dir, 'optimizer'), moments, { stem: 'state' });
    return treeBytes(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The base with float16 matrices, read one tensor at a time (activities/loraBaseWeights.ts). */
function halfBase(dir: string, config: QwenModelDir['config']) {
  const readers = openParameterReaders(dir, config);
  try {
    return halfWeights(config, (name) => readers.read(name));
  } finally {
    readers.close();
  }
}

/** Each phase's peak in GB (2 decimals) from phasePeaks' metrics; undefined where /proc has none. */
function phaseGB(metrics: Record<string, number>): Record<string, number> | undefined {
  const prefix = 'memory/trainer_peak_rss_gb/';
  const entries = Object.entries(metrics).filter(([k]) => k.startsWith(prefix));
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.map(([k, v]) => [k.slice(prefix.length), Math.round(v * 100) / 100]));
}

export async function runUpdateStep(o: UpdateStepOptions) {
  const t0 = performance.now();
  const peaks = phasePeaks();
  const lora =
    o.loraRank > 0
      ? { rank: o.loraRank, alpha: LORA_ALPHA, targetModules: 'all-linear', baseDtype: o.loraBaseDtype }
      : undefined;
  const algo = parseRlAlgorithmConfig({
    kl: { placement: 'none' },
    lossAgg: 'token-mean',
    miniBatchSize: o.rows,
    microBatchSize: o.micro,
    optimizer: { lr: LR },
    logProbChunkTokens: 'auto',
    gradientCheckpointing: o.recompute,
    ...(lora ? { lora } : {}),
  });
  const half = lora !== undefined && o.loraBaseDtype === 'float16';
  const model = half ? { ...loadModelDirFiles(o.model), weights: new Map() } : loadModelDir(o.model);
  const config = model.config;
  const base = half ? halfBase(o.model, config) : lora ? model.weights : undefined;
  const trained = algo.lora ? initLoraWeights(config, algo.lora, 0) : model.weights;
  const shapes = algo.lora ? loraParameters(config, algo.lora) : qwen2Parameters(config);
  const state = initOptimizerState(
    Object.fromEntries(shapes.map((p) => [p.name, { data: trained.get(p.name)!, dims: p.shape }])),
  );
  // Moments written, as a run's trainer holds them from its second step on (read from the checkpoint):
  // zeros never written stay unmapped pages, and the peak of the backward would leave out 8 bytes per
  // trained parameter that every later step pays.
  for (const t of [...Object.values(state.m), ...Object.values(state.v)]) (t.data as Float32Array).fill(0);
  const loadSeconds = (performance.now() - t0) / 1000;
  peaks.end('load');
  const updater = await PolicyUpdater.create(config, algo, { intraOpThreads: o.threads });
  const rows = benchRows(o, config.vocabSize);
  peaks.end('prepare');
  const timings = emptyStepTimings();
  const usage = process.resourceUsage();
  const t1 = performance.now();
  const { metrics } = await updater.update(
    state,
    rows,
    { seed: 0, step: 0, temperature: 1, lr: LR, klCoef: 0, timings },
    base,
  );
  const updateSeconds = (performance.now() - t1) / 1000;
  const after = process.resourceUsage();
  peaks.end('update');
  const t2 = performance.now();
  const checkpointBytes = writeStateFiles(model, state, algo.lora);
  const checkpointSeconds = (performance.now() - t2) / 1000;
  peaks.end('write');
  const phasePeakRssGB = phaseGB(peaks.metrics('trainer'));
  return {
    params: qwen2ParameterCount(config),
    trainable: algo.lora ? loraParameterCount(config, algo.lora) : qwen2ParameterCount(config),
    tokens: o.rows * (o.prompt + o.response),
    loadSeconds: Math.round(loadSeconds * 10) / 10,
    updateSeconds: Math.round(updateSeconds * 10) / 10,
    checkpointSeconds: Math.round(checkpointSeconds * 10) / 10,
    // Kernel time and page faults of the update: fresh pages the kernel zeroes count here, not as user time.
    updateSysSeconds: Math.round((after.systemCPUTime - usage.systemCPUTime) / 1e5) / 10,
    updateMinorFaults: after.minorPageFault - usage.minorPageFault,
    checkpointBytes,
    // Where the update's seconds went (onnxruntime's runs, the host's norm and AdamW, …: StepTimings).
    updatePartsSeconds: Object.fromEntries(
      Object.entries(timings).map(([k, ms]) => [k.replace(/Ms$/, ''), Math.round(ms / 100) / 10]),
    ),
    peakRssGB: phasePeakRssGB
      ? Math.max(...Object.values(phasePeakRssGB))
      : gb(process.resourceUsage().maxRSS * 1024),
    phasePeakRssGB,
    loss: metrics[0].loss,
    gradNorm: metrics[0].gradNorm,
  };
}

export function parseUpdateStepArgs(argv: string[]): UpdateStepOptions {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: {
      model: { type: 'string' },
      'lora-rank': { type: 'string', default: '0' },
      'lora-base-dtype': { type: 'string' },
      rows: { type: 'string', default: '16' },
      micro: { type: 'string', default: '4' },
      prompt: { type: 'string', default: '64' },
      response: { type: 'string', default: '256' },
      threads: { type: 'string', default: '2' },
      'no-recompute': { type: 'boolean', default: false },
      selective: { type: 'boolean', default: false },
    },
  });
  if (typeof values.model !== 'string') throw new Error('--model DIR is required');
  return {
    model: values.model,
    loraRank: Number(values['lora-rank']),
    loraBaseDtype: values['lora-base-dtype'] as WeightDtype | undefined,
    rows: Number(values.rows),
    micro: Number(values.micro),
    prompt: Number(values.prompt),
    response: Number(values.response),
    threads: Number(values.threads),
    recompute: values['no-recompute'] ? false : values.selective ? 'selective' : true,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await runUpdateStep(parseUpdateStepArgs(process.argv.slice(2)))));
}
