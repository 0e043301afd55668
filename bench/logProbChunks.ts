/**
 * `npm run bench:logprob-chunks`: one GRPO train step (forward, backward, clip, AdamW; PPO-clip with the
 * entropy bonus, so both log-probs and entropies are differentiated) at Qwen2.5's vocabulary (151,936,
 * tied embeddings) with a small hidden size, on 8 sequences × 512 tokens, with the log-prob step over the
 * vocabulary whole and split (algorithm.logProbChunkTokens = auto → slices of 4,748 words; a number N →
 * chunks of N tokens). Each variant runs
 * in its own process, so each peak RSS is its own. Last line:
 * {"bench":"logprob-chunks","plainPeakRssGB":…,"chunkedPeakRssGB":…,"rssRatio":…,"plainStepSeconds":…,…}
 * Flags: --hidden N (64), --sequences N (8), --length N (512), --chunk N|auto (auto),
 * --variant plain|chunked (one variant only).
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initOptimizerState } from '../core/graph/index.ts';
import type { HostTensor } from '../core/graph/index.ts';
import { makeQwen2Config } from '../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../core/model/parameters.ts';
import { logProbChunking } from '../core/model/tokenLogProbs.ts';
import { parseRlAlgorithmConfig } from '../core/config/rl.ts';
import { PolicyUpdater } from '../core/train/policyUpdate.ts';
import type { RolloutRow } from '../core/train/rolloutBatch.ts';
import { uniformAt } from '../core/random.ts';
import { runVariantInChild } from './variantProcess.ts';

const VOCAB = 151_936;
const PROMPT = 16;

const { values } = parseArgs({
  options: {
    hidden: { type: 'string', default: '64' },
    sequences: { type: 'string', default: '8' },
    length: { type: 'string', default: '512' },
    variant: { type: 'string' },
    chunk: { type: 'string', default: 'auto' },
  },
});
const hidden = Number(values.hidden);
const sequences = Number(values.sequences);
const length = Number(values.length);
const chunk = values.chunk === 'auto' ? 'auto' : Number(values.chunk);

function batchRows(): RolloutRow[] {
  const response = length - PROMPT;
  return Array.from({ length: sequences }, (_, b) => {
    const u = (t: number, stream: number) => uniformAt(7, stream, b, 0, t);
    return {
      promptIds: Array.from({ length: PROMPT }, (_, t) => Math.floor(u(t, 0) * VOCAB)),
      responseIds: Array.from({ length: response }, (_, t) => Math.floor(u(t, 1) * VOCAB)),
      oldLogprobs: Array.from({ length: response }, (_, t) => -Math.log(VOCAB) + (u(t, 2) - 0.5) * 0.6),
      sampled: Array.from({ length: response }, () => true),
      advantages: Array.from({ length: response }, () => u(0, 3) - 0.5),
    };
  });
}

/** One variant in this process: the step's seconds, loss and this process's peak RSS. */
async function runVariant(chunked: boolean) {
  const config = makeQwen2Config({
    vocabSize: VOCAB,
    hiddenSize: hidden,
    intermediateSize: 2 * hidden,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    numKeyValueHeads: 1,
    tieWordEmbeddings: true,
  });
  const algo = parseRlAlgorithmConfig({
    kl: { placement: 'none' },
    entropyCoef: 0.001,
    miniBatchSize: sequences,
    microBatchSize: sequences,
    logProbChunkTokens: chunked ? chunk : 0,
  });
  const updater = await PolicyUpdater.create(config, algo);
  const w = initQwen2Weights(config, 1);
  const params: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(config)) params[p.name] = { data: w.get(p.name)!, dims: p.shape };
  const rows = batchRows();
  const rssBeforeGB = process.resourceUsage().maxRSS / 2 ** 20;
  const t0 = performance.now();
  const { metrics } = await updater.update(initOptimizerState(params), rows, {
    seed: 1,
    step: 0,
    temperature: 1,
    lr: 1e-5,
    klCoef: 0,
  });
  return {
    variant: chunked ? 'chunked' : 'plain',
    ...(chunked ? logProbChunking(chunk, VOCAB) : { chunkTokens: 0, vocabWidth: 0 }),
    stepSeconds: (performance.now() - t0) / 1000,
    loss: metrics[0].loss,
    entropy: metrics[0].entropy,
    rssBeforeStepGB: rssBeforeGB,
    peakRssGB: process.resourceUsage().maxRSS / 2 ** 20,
  };
}

if (values.variant) {
  console.log(JSON.stringify(await runVariant(values.variant === 'chunked')));
} else {
  const self = fileURLToPath(import.meta.url);
  const results: Record<string, Awaited<ReturnType<typeof runVariant>>> = {};
  // Chunked first: a machine too small for the plain step still gets the chunked figure.
  for (const variant of ['chunked', 'plain']) {
    const args = [
      '--hidden',
      `${hidden}`,
      '--sequences',
      `${sequences}`,
      '--length',
      `${length}`,
      '--chunk',
      `${chunk}`,
    ];
    results[variant] = runVariantInChild(self, variant, args);
  }
  const { plain, chunked } = results;
  console.log(
    JSON.stringify({
      bench: 'logprob-chunks',
      vocab: VOCAB,
      hidden,
      tokens: sequences * (length - 1),
      chunkTokens: chunked.chunkTokens,
      vocabWidth: chunked.vocabWidth,
      plainPeakRssGB: +plain.peakRssGB.toFixed(2),
      chunkedPeakRssGB: +chunked.peakRssGB.toFixed(2),
      rssRatio: +(chunked.peakRssGB / plain.peakRssGB).toFixed(3),
      plainStepSeconds: +plain.stepSeconds.toFixed(2),
      chunkedStepSeconds: +chunked.stepSeconds.toFixed(2),
      lossDiff: Math.abs(plain.loss - chunked.loss),
      load1: +loadavg()[0].toFixed(1),
    }),
  );
}
