/**
 * `npm run bench:recompute`: one GRPO train step (forward, backward, clip, AdamW) of a Qwen2 whose
 * activations dominate its memory — 8 layers, hidden 256, 4 heads on 2 kv heads, a 512-word vocabulary —
 * on 8 sequences × 512 tokens, with algorithm.gradientCheckpointing false and true. Each variant runs in
 * its own process, so each peak RSS is its own; both must end with the same loss and gradient norm, bit
 * for bit. Last line:
 * {"bench":"recompute","plainPeakRssGB":…,"recomputePeakRssGB":…,"rssRatio":…,"plainStepSeconds":…,…}
 * Flags: --layers N (8), --hidden N (256), --sequences N (8), --length N (512),
 * --variant plain|recompute (one variant only, printed as one JSON line).
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initOptimizerState } from '../core/graph/index.ts';
import type { HostTensor } from '../core/graph/index.ts';
import { makeQwen2Config } from '../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../core/model/parameters.ts';
import { parseRlAlgorithmConfig } from '../core/config/rl.ts';
import { PolicyUpdater } from '../core/train/policyUpdate.ts';
import type { RolloutRow } from '../core/train/rolloutBatch.ts';
import { uniformAt } from '../core/random.ts';
import { runVariantInChild } from './variantProcess.ts';

/** Small enough that the logits ([tokens, 512]) are a minor share: the layers' activations dominate. */
const VOCAB = 512;
const PROMPT = 16;

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '8' },
    hidden: { type: 'string', default: '256' },
    sequences: { type: 'string', default: '8' },
    length: { type: 'string', default: '512' },
    variant: { type: 'string' },
  },
});
const layers = Number(values.layers);
const hidden = Number(values.hidden);
const sequences = Number(values.sequences);
const length = Number(values.length);

function batchRows(): RolloutRow[] {
  const response = length - PROMPT;
  return Array.from({ length: sequences }, (_, b) => {
    const u = (t: number, stream: number) => uniformAt(11, stream, b, 0, t);
    return {
      promptIds: Array.from({ length: PROMPT }, (_, t) => Math.floor(u(t, 0) * VOCAB)),
      responseIds: Array.from({ length: response }, (_, t) => Math.floor(u(t, 1) * VOCAB)),
      oldLogprobs: Array.from({ length: response }, (_, t) => -Math.log(VOCAB) + (u(t, 2) - 0.5) * 0.6),
      sampled: Array.from({ length: response }, () => true),
      advantages: Array.from({ length: response }, () => u(0, 3) - 0.5),
    };
  });
}

/** One variant in this process: the step's seconds, loss, gradient norm and this process's peak RSS. */
async function runVariant(recompute: boolean) {
  const config = makeQwen2Config({
    vocabSize: VOCAB,
    hiddenSize: hidden,
    intermediateSize: 4 * hidden,
    numHiddenLayers: layers,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
  });
  const algo = parseRlAlgorithmConfig({
    kl: { placement: 'none' },
    miniBatchSize: sequences,
    microBatchSize: sequences,
    gradientCheckpointing: recompute,
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
    variant: recompute ? 'recompute' : 'plain',
    params: Object.values(params).reduce((n, t) => n + t.data.length, 0),
    stepSeconds: (performance.now() - t0) / 1000,
    loss: metrics[0].loss,
    gradNorm: metrics[0].gradNorm,
    rssBeforeStepGB: rssBeforeGB,
    peakRssGB: process.resourceUsage().maxRSS / 2 ** 20,
  };
}

if (values.variant) {
  console.log(JSON.stringify(await runVariant(values.variant === 'recompute')));
} else {
  const self = fileURLToPath(import.meta.url);
  const results: Record<string, Awaited<ReturnType<typeof runVariant>>> = {};
  for (const variant of ['recompute', 'plain']) {
    const args = [
      '--layers',
      `${layers}`,
      '--hidden',
      `${hidden}`,
      '--sequences',
      `${sequences}`,
      '--length',
      `${length}`,
    ];
    results[variant] = runVariantInChild(self, variant, args);
  }
  const { plain, recompute } = results;
  if (plain.loss !== recompute.loss || plain.gradNorm !== recompute.gradNorm)
    throw new Error(
      `recomputation changed the step: loss ${plain.loss} vs ${recompute.loss}, ` +
        `grad norm ${plain.gradNorm} vs ${recompute.gradNorm}`,
    );
  console.log(
    JSON.stringify({
      bench: 'recompute',
      layers,
      hidden,
      params: plain.params,
      tokens: sequences * length,
      plainPeakRssGB: +plain.peakRssGB.toFixed(2),
      recomputePeakRssGB: +recompute.peakRssGB.toFixed(2),
      rssRatio: +(recompute.peakRssGB / plain.peakRssGB).toFixed(3),
      plainStepSeconds: +plain.stepSeconds.toFixed(2),
      recomputeStepSeconds: +recompute.stepSeconds.toFixed(2),
      timeRatio: +(recompute.stepSeconds / plain.stepSeconds).toFixed(3),
      load1: +loadavg()[0].toFixed(1),
    }),
  );
}
