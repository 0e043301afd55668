/**
 * The trainers with the vocabulary-wide log-prob step in token chunks (algorithm.logProbChunkTokens) and
 * in slices of the vocabulary (`auto` on a large vocabulary): on a tiny Qwen2, tied and untied lm_head, a
 * chunk that does not divide the token count, the policy loss (PPO-clip + KL loss + entropy bonus), the SFT
 * loss and the reference scorer give the unsplit graph's log-probs, entropies, loss, metrics and every
 * parameter gradient, within float32 rounding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executable, buildGradStep, names } from '../../../core/graph/index.ts';
import type { Feeds, HostTensor } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import type { Qwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';
import { logProbChunking, vocabSliceWidth } from '../../../core/model/tokenLogProbs.ts';
import { parseRlAlgorithmConfig } from '../../../core/config/rl.ts';
import { buildPolicyLoss, lossInputs } from '../../../core/train/policyLossGraph.ts';
import { buildSftLoss, packSftRows, sftInputs } from '../../../core/train/sftLossGraph.ts';
import { packRows } from '../../../core/train/rolloutBatch.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';
import { ResponseScorer } from '../../../core/train/responseLogProbs.ts';

/** Both graphs are float32 and sum in different orders (Gemm vs MatMul, per chunk): ≈1e-7 apart. */
const TOLERANCE = 1e-5;
/** 6 rows of 3 + up to 5 tokens: 6 × 7 = 42 scored positions, not a multiple of 5. */
const CHUNK = 5;
/** The two ways to split the [tokens, vocab] block: 5-token chunks, and three slices of 8 of the 24 words. */
const SPLITS = [
  { label: 'token chunks', chunkTokens: CHUNK, vocabWidth: 0 },
  { label: 'vocabulary slices', chunkTokens: 0, vocabWidth: 8 },
];
const WHOLE = { chunkTokens: 0, vocabWidth: 0 };

function tiny(tie: boolean): Qwen2Config {
  return makeQwen2Config({
    vocabSize: 24,
    hiddenSize: 16,
    intermediateSize: 24,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    numKeyValueHeads: 1,
    tieWordEmbeddings: tie,
  });
}

function rows(n: number, vocab: number): RolloutRow[] {
  let s = 11;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: n }, (_, i) => {
    const len = 1 + (i % 5);
    return {
      promptIds: [1 + (i % 5), 2, 3],
      responseIds: Array.from({ length: len }, () => Math.floor(r() * vocab)),
      oldLogprobs: Array.from({ length: len }, () => -3 + r()),
      refLogprobs: Array.from({ length: len }, () => -3 + r()),
      sampled: Array.from({ length: len }, (_, k) => !(i % 3 === 0 && k === 1)),
      advantages: Array.from({ length: len }, () => r() - 0.5),
    };
  });
}

const scalar = (x: number): HostTensor => ({ data: new Float32Array([x]), dims: [] });

/** max |a − b| / max |b| over one tensor. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

function assertSameOutputs(chunked: Record<string, HostTensor>, plain: Record<string, HostTensor>) {
  assert.deepEqual(Object.keys(chunked).sort(), Object.keys(plain).sort());
  let worst = 0;
  for (const name of Object.keys(plain)) {
    assert.deepEqual([...chunked[name].dims], [...plain[name].dims], name);
    const e = relativeError(chunked[name].data as Float32Array, plain[name].data as Float32Array);
    assert.ok(e <= TOLERANCE, `${name}: relative error ${e.toExponential(2)}`);
    worst = Math.max(worst, e);
  }
  return worst;
}

async function gradOutputs(graph: Parameters<typeof Executable.compile>[0], feeds: Feeds) {
  const exec = await Executable.compile(graph);
  const out = await exec.run(feeds);
  await exec.release();
  return out;
}

for (const tie of [false, true])
  for (const split of SPLITS) {
    test(`policy loss (tie ${tie}): log-probs in ${split.label} give the plain graph's loss, metrics and gradients`, async () => {
      const config = tiny(tie);
      const batch = rows(6, config.vocabSize);
      const outs = [];
      for (const { chunkTokens, vocabWidth } of [split, WHOLE]) {
        const l = buildPolicyLoss(config, {
          clip: parseRlAlgorithmConfig({}).clip,
          aggMode: 'seq-mean-token-mean',
          klLoss: { estimator: 'k3' },
          entropyBonus: true,
          chunkTokens,
          vocabWidth,
        });
        const feeds: Feeds = {
          ...packRows(batch, { withRef: true }),
          [lossInputs.lossNorm]: scalar(6),
          [lossInputs.temperature]: scalar(0.7),
          [lossInputs.klCoef]: scalar(0.1),
          [lossInputs.entropyCoef]: scalar(0.05),
        };
        const w = initQwen2Weights(config, 7);
        for (const p of l.params) feeds[p.name] = { data: w.get(p.name)!, dims: p.shape as number[] };
        outs.push(await gradOutputs(buildGradStep(l), feeds));
      }
      const worst = assertSameOutputs(outs[0], outs[1]);
      const embedGrad = names.grad('model.embed_tokens.weight');
      assert.ok(embedGrad in outs[0]);
      // With tied weights embed_tokens gets both the lm_head and the embedding gradient: the sum is checked.
      console.log(`policy loss, tie ${tie}, ${split.label}: worst relative error ${worst.toExponential(2)}`);
    });
  }

for (const split of SPLITS)
  test(`SFT loss: ${split.label} give the plain graph's loss and gradients`, async () => {
    const config = tiny(true);
    const outs = [];
    for (const { chunkTokens, vocabWidth } of [split, WHOLE]) {
      const l = buildSftLoss(config, { chunkTokens, vocabWidth });
      const feeds: Feeds = { ...packSftRows(rows(6, config.vocabSize)), [sftInputs.lossNorm]: scalar(20) };
      const w = initQwen2Weights(config, 7);
      for (const p of l.params) feeds[p.name] = { data: w.get(p.name)!, dims: p.shape as number[] };
      outs.push(await gradOutputs(buildGradStep(l), feeds));
    }
    const worst = assertSameOutputs(outs[0], outs[1]);
    console.log(`SFT loss, ${split.label}: worst relative error ${worst.toExponential(2)}`);
  });

test('the response scorer gives the same log-probs chunked and not', async () => {
  const config = tiny(false);
  const w = initQwen2Weights(config, 7);
  const batch = rows(6, config.vocabSize);
  const chunked = await (await ResponseScorer.create(config, {}, CHUNK)).logProbs(w, batch, 0.8);
  const plain = await (await ResponseScorer.create(config, {}, 0)).logProbs(w, batch, 0.8);
  const e = relativeError(chunked.flat(), plain.flat());
  assert.ok(e <= TOLERANCE, `relative error ${e}`);
});

test('logProbChunking: auto slices large vocabularies by their largest divisor ≤ 4,800 words, else chunks by 256 MiB of logits; numbers are token chunks', () => {
  const slices = (vocabWidth: number) => ({ chunkTokens: 0, vocabWidth });
  const chunks = (chunkTokens: number) => ({ chunkTokens, vocabWidth: 0 });
  assert.deepEqual(logProbChunking('auto', 151_936), slices(4_748)); // Qwen2.5: 2⁷ · 1,187
  assert.deepEqual(logProbChunking(undefined, 151_936), slices(4_748));
  assert.deepEqual(logProbChunking('auto', 128_256), slices(4_008)); // Llama 3: 2⁸ · 3 · 167
  assert.deepEqual(logProbChunking('auto', 32_000), chunks(0));
  // A prime vocabulary has no slice in range: ⌊256 MiB / (4 · 65,537)⌋ = 1,023 tokens per chunk.
  assert.equal(vocabSliceWidth(65_537), 0);
  assert.deepEqual(logProbChunking('auto', 65_537), chunks(1_023));
  assert.deepEqual(logProbChunking(0, 151_936), chunks(0));
  assert.deepEqual(logProbChunking(441, 151_936), chunks(441));
  assert.deepEqual(logProbChunking(1024, 23), chunks(1024));
  assert.throws(() => logProbChunking(-1, 23), /non-negative integer or "auto"/);
  assert.equal(parseRlAlgorithmConfig({}).logProbChunkTokens, 'auto');
  assert.throws(() => parseRlAlgorithmConfig({ logProbChunkTokens: 2.5 as never }), /logProbChunkTokens/);
});
