/**
 * The trainer's memory estimate against peaks measured on this project's machine (2 cores, 24 GB), each
 * recorded with the command that produced it: the estimate must be within 25% of the measured peak. The
 * figures are records, not timings: rerun the commands after changing the trainer and update them here and
 * in docs/model.md.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  backwardStretches,
  trainerEstimate,
  trainerTerms,
  type TrainerShape,
} from '../../../core/config/memoryTrainer.ts';
import { qwen2ParameterCount } from '../../../core/model/parameters.ts';
import type { Qwen2Config } from '../../../core/model/config.ts';
import { LORA_TARGET_MODULES } from '../../../core/model/lora.ts';
import { shapeConfig } from '../../../core/model/testModelDir.ts';
import { logProbChunking } from '../../../core/model/tokenLogProbs.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';

/** bench-25m (bench/rollout/workload.ts's BENCH_25M). */
const bench25m = makeQwen2Config({
  vocabSize: 16384,
  hiddenSize: 512,
  intermediateSize: 1408,
  numHiddenLayers: 6,
  numAttentionHeads: 8,
  numKeyValueHeads: 2,
  tieWordEmbeddings: true,
});

const shape = (
  config: Qwen2Config,
  rows: number,
  length: number,
  recompute: boolean | 'selective',
  rank?: number,
): TrainerShape => ({
  rows,
  length,
  recompute,
  chunking: logProbChunking('auto', config.vocabSize),
  lora: rank ? { rank, alpha: 2 * rank, targetModules: [...LORA_TARGET_MODULES] } : undefined,
});

const MEASURED: {
  what: string;
  command: string;
  config: Qwen2Config;
  shape: TrainerShape;
  peakGB: number;
}[] = [
  {
    what: 'bench-25m, 8 × 256 tokens, no recomputation, unchunked',
    command: 'node --import tsx bench/update.ts --ours-only 1 (peakRssMb 2,066 MiB)',
    config: bench25m,
    shape: shape(bench25m, 8, 256, false),
    peakGB: (2066 * 2 ** 20) / 1e9,
  },
  {
    what: 'Qwen2.5-0.5B shape, full AdamW, 4 rows × (32 + 96) in micro-batches of 2, recomputation',
    command:
      'node --import tsx bench/scale/updateStep.ts --model DIR --rows 4 --micro 2 --prompt 32 --response 96 (peakRssGB)',
    config: shapeConfig('qwen2.5-0.5b'),
    shape: shape(shapeConfig('qwen2.5-0.5b'), 2, 128, true),
    peakGB: 10.65,
  },
  {
    what: 'Qwen2.5-0.5B shape, full AdamW, 16 rows × (40 + 256) in micro-batches of 4, recomputation',
    command:
      'node --import tsx bench/scale/updateStep.ts --model DIR --rows 16 --micro 4 --prompt 40 --response 256 (peakRssGB, 3 December 2026)',
    config: shapeConfig('qwen2.5-0.5b'),
    shape: shape(shapeConfig('qwen2.5-0.5b'), 4, 296, true),
    peakGB: 11.46,
  },
  {
    what: 'the same with selective recomputation (the projections kept)',
    command:
      'node --import tsx bench/scale/updateStep.ts --model DIR --rows 16 --micro 4 --prompt 40 --response 256 --selective (peakRssGB, 3 December 2026)',
    config: shapeConfig('qwen2.5-0.5b'),
    shape: shape(shapeConfig('qwen2.5-0.5b'), 4, 296, 'selective'),
    peakGB: 12.53,
  },
  {
    what: 'Qwen2.5-1.5B shape, LoRA r16 on every linear layer, 4 rows × (32 + 96) in micro-batches of 2, recomputation',
    command:
      'node --import tsx bench/scale/updateStep.ts --model DIR --rows 4 --micro 2 --prompt 32 --response 96 --lora-rank 16',
    config: shapeConfig('qwen2.5-1.5b'),
    shape: shape(shapeConfig('qwen2.5-1.5b'), 2, 128, true, 16),
    peakGB: 7.36,
  },
  {
    what: 'the same with the frozen base at float16 (lora.baseDtype)',
    command:
      'node --import tsx bench/scale/updateStep.ts --model DIR --rows 4 --micro 2 --prompt 32 --response 96 --lora-rank 16 --lora-base-dtype float16 (/usr/bin/time %M 6,057,652 KB)',
    config: shapeConfig('qwen2.5-1.5b'),
    shape: { ...shape(shapeConfig('qwen2.5-1.5b'), 2, 128, true, 16), baseDtype: 'float16' },
    peakGB: 6.2,
  },
];

for (const m of MEASURED) {
  test(`the trainer estimate is within 25% of the measured peak: ${m.what}`, () => {
    const estimate = trainerEstimate(m.config, m.shape) / 1e9;
    const ratio = estimate / m.peakGB;
    assert.ok(
      ratio >= 0.75 && ratio <= 1.25,
      `estimate ${estimate.toFixed(2)} GB vs measured ${m.peakGB.toFixed(2)} GB (${m.command}): ${ratio.toFixed(2)}×`,
    );
  });
}

test("LoRA: the frozen base counts once; gradients, moments and the copy back are the adapters' only", () => {
  const config = shapeConfig('qwen2.5-1.5b');
  const terms = trainerTerms(config, shape(config, 2, 128, true, 16));
  const bytes = (name: string) => terms.find((t) => t.name.startsWith(name))!.bytes;
  assert.equal(bytes('weights (frozen base)'), 1_543_714_304 * 4);
  assert.ok(bytes('gradients') < 100e6 && bytes('AdamW') < 200e6);
  assert.match(terms.at(-1)!.name, /embedding 0\.00 GB/);
});

test('the backward peaks in its largest stretch, holding two [V, H] sums in the log-probs Loop and three at the end', () => {
  const config = shapeConfig('qwen2.5-0.5b');
  const vh = config.vocabSize * config.hiddenSize * 4;
  const full = backwardStretches(config, shape(config, 4, 296, true));
  const lora = backwardStretches(config, shape(config, 4, 296, true, 16));
  const bytes = (s: typeof full, name: string) => s.find((t) => t.name === name)!.bytes;
  assert.equal(bytes(full, 'log-probs') - bytes(lora, 'log-probs'), 2 * vh);
  assert.equal(bytes(full, 'layers') - bytes(lora, 'layers'), vh);
  assert.equal(bytes(full, 'embedding'), 3 * vh);
  assert.equal(bytes(lora, 'embedding'), 0);
  const terms = trainerTerms(config, shape(config, 4, 296, true));
  assert.equal(terms.at(-1)!.bytes, Math.max(...full.map((t) => t.bytes), qwen2ParameterCount(config) * 4));
});
