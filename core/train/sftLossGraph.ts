/**
 * Supervised fine-tuning loss on the Qwen2 model, as one graph: −log π(target) of every loss token at
 * temperature 1, aggregated by verl's modes with the normaliser as an input (so micro-batch gradient
 * accumulation is exact, as in the RL loss), plus the packing of (prompt, response) rows into its feeds.
 * The plain-number reference it is tested against is test/unit/rl/reference/sftLoss.ts.
 */
import { Graph, op } from '../graph/index.ts';
import type { DType, Feeds, Value } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import { declareQwen2Inputs } from '../model/qwen2.ts';
import { tokenLogProbs } from '../model/tokenLogProbs.ts';
import type { LossAggMode } from '../rl/aggregation.ts';
import { aggregateLossGraph, lossNormalizer } from '../rl/lossGraph.ts';
import { packSequences } from './rolloutBatch.ts';

/** SFT scores tokens under π itself: the logits are not tempered (HF Trainer / verl SFT). */
const SFT_TEMPERATURE = 1;

/** Names of the inputs `packSftRows` and the updater fill (besides the model's token inputs). */
export const sftInputs = {
  lossMask: 'loss_mask',
  lossNorm: 'loss_norm',
} as const;

/** Metric outputs: the aggregated NLL (sum over micro-batches = batch value) and the loss-token count. */
export const sftMetrics = {
  nll: 'metric.nll',
  tokens: 'metric.tokens',
} as const;

export interface SftLossOptions {
  /** token-mean by default: HF Trainer's and verl's SFT aggregation. */
  aggMode?: LossAggMode;
  dtype?: DType;
  /** Tokens per chunk of the log-prob step over the vocabulary (core/model/tokenLogProbs.ts); 0 = whole. */
  chunkTokens?: number;
  /** Words per slice of the vocabulary in that step (tokenLogProbs.ts logProbChunking); 0 = none. */
  vocabWidth?: number;
}

export interface SftLossGraph {
  graph: Graph;
  loss: Value;
  params: Value[];
  metrics: Record<string, Value>;
}

export function buildSftLoss(config: Qwen2Config, opts: SftLossOptions = {}): SftLossGraph {
  const dtype = opts.dtype ?? 'float32';
  const graph = new Graph('sftLoss');
  const { inputs, params } = declareQwen2Inputs(graph, config, dtype);
  const temperature = graph.scalar(SFT_TEMPERATURE, dtype);
  const { logProbs } = tokenLogProbs(graph, inputs, params, config, temperature, {
    chunkTokens: opts.chunkTokens,
    vocabWidth: opts.vocabWidth,
  });
  const mask = graph.input(sftInputs.lossMask, dtype, logProbs.shape);
  const norm = graph.input(sftInputs.lossNorm, dtype, []);
  const loss = aggregateLossGraph(op.neg(logProbs), mask, opts.aggMode ?? 'token-mean', norm);
  return {
    graph,
    loss,
    params: [...params.values()],
    metrics: { [sftMetrics.nll]: loss, [sftMetrics.tokens]: op.sumAll(mask) },
  };
}

/** One SFT example: the prompt is context only; response tokens are trained on unless lossMask says no. */
export interface SftRow {
  promptIds: readonly number[];
  responseIds: readonly number[];
  /** Per response token; false for tokens the model should not learn to emit (tool output). */
  lossMask?: readonly boolean[];
}

/** Throws, naming the row and field, when a row cannot be packed or a token lies outside the vocabulary. */
export function checkSftRow(row: SftRow, index: number, vocabSize?: number): void {
  const n = row.responseIds.length;
  if (row.promptIds.length === 0)
    throw new RangeError(`sft row ${index}: empty prompt (response token 0 is scored after the prompt)`);
  if (row.lossMask && row.lossMask.length !== n)
    throw new RangeError(
      `sft row ${index}: lossMask has ${row.lossMask.length} entries, responseIds has ${n}`,
    );
  if (vocabSize === undefined) return;
  for (const [field, ids] of [
    ['promptIds', row.promptIds],
    ['responseIds', row.responseIds],
  ] as const) {
    const k = ids.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= vocabSize);
    if (k >= 0)
      throw new RangeError(
        `sft row ${index}: ${field}[${k}] = ${ids[k]} is outside the vocabulary [0, ${vocabSize})`,
      );
  }
}

/** Loss tokens of a row: response tokens not masked out. */
export function sftTokenCount(row: SftRow): number {
  return row.lossMask ? row.lossMask.filter(Boolean).length : row.responseIds.length;
}

/**
 * The normaliser of a whole batch (feed it to every micro-batch of that batch); `maxLength` only for
 * seq-mean-token-sum-norm.
 */
export function sftLossNorm(rows: readonly SftRow[], mode: LossAggMode, maxLength?: number): number {
  return lossNormalizer(rows.map(sftTokenCount), mode, maxLength);
}

/**
 * Token inputs and loss mask [rows, S − 1] (float32) for a set of rows, right-padded with `padId`;
 * response token k of a row is scored at position P + k − 1, as in packRows. The normaliser is not
 * included: it belongs to the whole batch (`sftLossNorm`).
 */
export function packSftRows(rows: readonly SftRow[], padId = 0): Feeds {
  if (rows.length === 0) throw new RangeError('packSftRows: no rows');
  rows.forEach((r, i) => checkSftRow(r, i));
  const feeds = packSequences(rows, padId);
  const B = rows.length;
  const L = feeds.input_ids.dims[1] - 1;
  const mask = new Float32Array(B * L);
  rows.forEach((row, b) => {
    const P = row.promptIds.length;
    row.responseIds.forEach((_, k) => {
      if (!row.lossMask || row.lossMask[k]) mask[b * L + P + k - 1] = 1;
    });
  });
  feeds[sftInputs.lossMask] = { data: mask, dims: [B, L] };
  return feeds;
}
