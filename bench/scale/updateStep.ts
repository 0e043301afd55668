/**
 * One RL update step of a real-shape policy outside any workflow, in a process of its own so its peak RSS
 * is the step's: the model dir's weights (full-parameter AdamW, or LoRA adapters on the frozen base), a
 * GRPO batch of `rows` × (`prompt` + `response`) tokens cut into micro-batches, log-probs in token chunks,
 * per-layer recomputation, then the trainer state written as checkpoint files (streamed, tensor by tensor).
 * The same batch goes to PyTorch (bench_scale_torch.py) through `writeTorchBatch`. Last stdout line:
 * {"updateSeconds":…,"checkpointSeconds":…,"checkpointBytes":…,"peakRssGB":…,"loss":…,"gradNorm":…,…}
 *
 *   node --import tsx bench/scale/updateStep.ts --model DIR [--lora-rank 16] [--rows 16] [--micro 4]
 *     [--prompt 64] [--response 256] [--threads 2] [--no-recompute]
 */
import { statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { HostTensor } from '../../core/graph/index.ts';
import { initOptimizerState } from '../../core/graph/index.ts';
import { loadModelDir, loadModelDirFiles } from '../../core/model/modelDir.ts';
import { initLoraWeights, loraParameterCount } from '../../core/model/lora.ts';
import { qwen2ParameterCount, qwen2Parameters } from '../../core/model/parameters.ts';
import { parseRlAlgorithmConfig } from '../../core/config/rl.ts';
import { PolicyUpdater } from '../../core/train/policyUpdate.ts';
import { packRows, type RolloutRow } from '../../core/train/rolloutBatch.ts';
import { uniformAt } from '../../core/random.ts';
import { loraInitialState } from '../../activities/loraState.ts';
import { withStateFiles } from '../../activities/trainerState.ts';

export interface UpdateStepOptions {
  model: string;
  loraRank: number;
  rows: number;
  micro: number;
  prompt: number;
  response: number;
  threads: number;
  recompute: boolean;
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
  const packed = packRows(rows);
  const S = packed.input_ids.dims[1];
  const toRows = (t: HostTensor, width: number) =>
    Array.from({ length: rows.length }, (_, b) =>
      Array.from(t.data.subarray(b * width, (b + 1) * width) as ArrayLike<number | bigint>, Number),
    );
  writeFileSync(
    path,
    JSON.stringify({
      input_ids: toRows(packed.input_ids, S),
      attention_mask: toRows(packed.attention_mask, S),
      loss_mask: toRows(packed.loss_mask, S - 1),
      old_logprobs: toRows(packed.old_logprobs, S - 1),
      advantages: toRows(packed.advantages, S - 1),
      clip_low: 0.2,
      clip_high: 0.2,
      lr: LR,
      weight_decay: 0.01,
      max_grad_norm: 1.0,
      micro_batch: o.micro,
      lora_rank: o.loraRank,
      lora_alpha: LORA_ALPHA,
    }),
  );
}

const gb = (bytes: number) => Math.round((bytes / 1e9) * 100) / 100;

export async function runUpdateStep(o: UpdateStepOptions) {
  const t0 = performance.now();
  const lora = o.loraRank > 0 ? { rank: o.loraRank, alpha: LORA_ALPHA, targetModules: 'all-linear' } : undefined;
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
  const model = loadModelDir(o.model);
  const config = model.config;
  const base = lora ? model.weights : undefined;
  const state = algo.lora
    ? loraInitialState(config, algo.lora, initLoraWeights(config, algo.lora, 0))
    : initOptimizerState(
        Object.fromEntries(
          qwen2Parameters(config).map((p) => [p.name, { data: model.weights.get(p.name)!, dims: p.shape }]),
        ),
      );
  const loadSeconds = (performance.now() - t0) / 1000;
  const updater = await PolicyUpdater.create(config, algo, { intraOpThreads: o.threads });
  const rows = benchRows(o, config.vocabSize);
  const t1 = performance.now();
  const { metrics } = await updater.update(
    state,
    rows,
    { seed: 0, step: 0, temperature: 1, lr: LR, klCoef: 0 },
    base,
  );
  const updateSeconds = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  const files = loadModelDirFiles(o.model);
  const checkpointBytes = await withStateFiles(
    { ...files, config },
    state,
    async (objects) => objects.reduce((s, x) => s + ('file' in x ? statSync(x.file).size : 0), 0),
    {},
    algo.lora && { spec: algo.lora, base: { model: { dir: o.model }, store: { url: 'file:///unused' } } },
  );
  const checkpointSeconds = (performance.now() - t2) / 1000;
  return {
    params: qwen2ParameterCount(config),
    trainable: algo.lora ? loraParameterCount(config, algo.lora) : qwen2ParameterCount(config),
    tokens: o.rows * (o.prompt + o.response),
    loadSeconds: Math.round(loadSeconds * 10) / 10,
    updateSeconds: Math.round(updateSeconds * 10) / 10,
    checkpointSeconds: Math.round(checkpointSeconds * 10) / 10,
    checkpointBytes,
    peakRssGB: gb(process.resourceUsage().maxRSS * 1024),
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
      rows: { type: 'string', default: '16' },
      micro: { type: 'string', default: '4' },
      prompt: { type: 'string', default: '64' },
      response: { type: 'string', default: '256' },
      threads: { type: 'string', default: '2' },
      'no-recompute': { type: 'boolean', default: false },
    },
  });
  if (typeof values.model !== 'string') throw new Error('--model DIR is required');
  return {
    model: values.model,
    loraRank: Number(values['lora-rank']),
    rows: Number(values.rows),
    micro: Number(values.micro),
    prompt: Number(values.prompt),
    response: Number(values.response),
    threads: Number(values.threads),
    recompute: !values['no-recompute'],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await runUpdateStep(parseUpdateStepArgs(process.argv.slice(2)))));
}
