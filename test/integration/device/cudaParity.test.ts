/**
 * GPU parity (issue "GPU workers"): the same graphs on ORT's CUDA provider and on its CPU provider.
 * - logits of the committed Qwen2 fixture (made by HF transformers) on cuda equal cpu within 1e-3;
 * - one GRPO step (PPO-clip, k3 KL loss, entropy bonus, 2 mini-batches) gives the same losses within 1e-4;
 * - float16 weights: transformers' greedy tokens, log-probs within 1e-2 of its float32 ones;
 * - run-to-run: the same forward / the same step twice on the GPU, compared byte for byte (reported, not
 *   asserted: docs/gpu.md's determinism table is filled from these numbers).
 *
 * Needs a usable CUDA device (checkDevice); skipped without one, except with REASONLOOP_TEST_CUDA=1, which
 * makes a missing device a failure (set it on GPU machines so the check cannot silently skip).
 * REASONLOOP_TEST_CUDA_CPU_NODES=forbid refuses any node ORT would place on the CPU (default allow: docs/gpu.md).
 * REASONLOOP_GPU_REPORT=FILE writes the measured differences as JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { checkDevice, type Device } from '../../../core/graph/device.ts';
import { Executable, initOptimizerState, type Feeds, type HostTensor } from '../../../core/graph/index.ts';
import type { SessionConfig } from '../../../core/graph/session.ts';
import { loadModelDir } from '../../../core/model/modelDir.ts';
import { buildQwen2Logits } from '../../../core/model/qwen2.ts';
import { qwen2Parameters } from '../../../core/model/parameters.ts';
import { parseRlAlgorithmConfig } from '../../../core/config/rl.ts';
import { PolicyUpdater } from '../../../core/train/policyUpdate.ts';
import { ResponseScorer } from '../../../core/train/responseLogProbs.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/qwen2/', import.meta.url));
/** The bounds: logits cuda vs cpu (max-abs), a GRPO step's loss cuda vs cpu (abs). */
const LOGITS_TOLERANCE = 1e-3;
const LOSS_TOLERANCE = 1e-4;
const CUDA: Device = {
  kind: 'cuda',
  index: Number(process.env.REASONLOOP_TEST_CUDA_INDEX ?? 0),
  cpuNodes: process.env.REASONLOOP_TEST_CUDA_CPU_NODES === 'forbid' ? 'forbid' : 'allow',
};
const REQUIRED = process.env.REASONLOOP_TEST_CUDA === '1';

const report: Record<string, unknown> = {};
function record(key: string, value: unknown): void {
  report[key] = value;
  console.log(`${key}: ${JSON.stringify(value)}`);
  if (process.env.REASONLOOP_GPU_REPORT)
    writeFileSync(process.env.REASONLOOP_GPU_REPORT, JSON.stringify(report, null, 2));
}

async function deviceSkipReason(): Promise<string | false> {
  try {
    await checkDevice(CUDA);
    return false;
  } catch (e) {
    if (REQUIRED) throw e;
    return `no usable CUDA device: ${(e as Error).message.split('\n')[0]}`;
  }
}
const skip = await deviceSkipReason();

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

function sameBytes(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

const int64Rows = (rows: number[][]) => ({
  data: BigInt64Array.from(rows.flat().map(BigInt)),
  dims: [rows.length, rows[0].length],
});

async function fixtureLogits(variant: string, session: SessionConfig): Promise<Float32Array> {
  const dir = join(FIXTURES, variant);
  const model = loadModelDir(dir);
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as {
    input_ids: number[][];
    attention_mask: number[][];
    position_ids: number[][];
  };
  const fwd = buildQwen2Logits(model.config);
  const exec = await Executable.compile(fwd.graph, session);
  const feeds: Feeds = {
    input_ids: int64Rows(ref.input_ids),
    attention_mask: int64Rows(ref.attention_mask),
    position_ids: int64Rows(ref.position_ids),
  };
  for (const [name, v] of fwd.params)
    feeds[name] = { data: model.weights.get(name)!, dims: v.shape as number[] };
  try {
    return (await exec.run(feeds)).logits.data as Float32Array;
  } finally {
    await exec.release();
  }
}

for (const variant of ['untied', 'tied']) {
  test(`${variant} fixture: logits on cuda equal cpu within ${LOGITS_TOLERANCE}`, { skip }, async () => {
    const cpu = await fixtureLogits(variant, {});
    const gpu = await fixtureLogits(variant, { device: CUDA });
    const again = await fixtureLogits(variant, { device: CUDA });
    const diff = maxAbsDiff(gpu, cpu);
    record(`logits.${variant}`, { maxAbsCudaVsCpu: diff, cudaRunToRunBitExact: sameBytes(gpu, again) });
    assert.ok(diff <= LOGITS_TOLERANCE, `max |logits cuda − cpu| = ${diff}`);
  });
}

/** A fixed batch: 8 responses to 4 prompts, with one tool-inserted token, GRPO-like advantages. */
function rolloutRows(vocab: number): RolloutRow[] {
  let s = 17;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: 8 }, (_, i) => {
    const len = 6 + (i % 5);
    const adv = i % 2 === 0 ? 0.7 : -0.7;
    return {
      promptIds: [256, 1 + (i % 4), 2 + (i % 3), 3],
      responseIds: Array.from({ length: len }, () => Math.floor(r() * vocab)),
      oldLogprobs: [],
      sampled: Array.from({ length: len }, (_, k) => !(i % 3 === 0 && k === 2)),
      advantages: Array.from({ length: len }, () => adv),
    };
  });
}

async function grpoStep(session: SessionConfig) {
  const model = loadModelDir(join(FIXTURES, 'untied'));
  const algo = parseRlAlgorithmConfig({
    kl: { placement: 'loss', estimator: 'k3', coef: 0.01 },
    entropyCoef: 0.001,
    optimizer: { lr: 1e-3 },
    miniBatchSize: 4,
    microBatchSize: 2,
  });
  const params: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(model.config))
    params[p.name] = { data: model.weights.get(p.name)!, dims: p.shape };
  // The sampling policy's log-probs come from the CPU in both runs, so only the update differs.
  const scorer = await ResponseScorer.create(model.config);
  const batch = rolloutRows(model.config.vocabSize);
  const old = await scorer.logProbs(model.weights, batch, 1);
  const rows = batch.map((r, i) => ({ ...r, oldLogprobs: old[i], refLogprobs: old[i] }));
  const updater = await PolicyUpdater.create(model.config, algo, session);
  return updater.update(initOptimizerState(params), rows, {
    seed: 5,
    step: 1,
    temperature: 1,
    lr: 1e-3,
    klCoef: 0.01,
  });
}

test(`GRPO step: losses on cuda equal cpu within ${LOSS_TOLERANCE}`, { skip }, async () => {
  const cpu = await grpoStep({});
  const gpu = await grpoStep({ device: CUDA });
  const again = await grpoStep({ device: CUDA });
  assert.equal(gpu.metrics.length, cpu.metrics.length);
  const lossDiffs = cpu.metrics.map((m, i) => ({
    pgLoss: Math.abs(m.pgLoss - gpu.metrics[i].pgLoss),
    loss: Math.abs(m.loss - gpu.metrics[i].loss),
    klLoss: Math.abs(m.klLoss - gpu.metrics[i].klLoss),
    entropy: Math.abs(m.entropy - gpu.metrics[i].entropy),
    gradNormRel: Math.abs(m.gradNorm - gpu.metrics[i].gradNorm) / m.gradNorm,
  }));
  let weightDiff = 0;
  let bitExact = true;
  for (const [name, t] of Object.entries(cpu.state.params)) {
    weightDiff = Math.max(
      weightDiff,
      maxAbsDiff(t.data as Float32Array, gpu.state.params[name].data as Float32Array),
    );
    bitExact &&= sameBytes(
      gpu.state.params[name].data as Float32Array,
      again.state.params[name].data as Float32Array,
    );
  }
  record('grpoStep', {
    metricsCpu: cpu.metrics,
    metricsCuda: gpu.metrics,
    lossDiffs,
    maxAbsWeightDiffAfterStep: weightDiff,
    cudaRunToRunWeightsBitExact: bitExact,
  });
  for (const [i, d] of lossDiffs.entries()) {
    assert.ok(d.pgLoss <= LOSS_TOLERANCE, `mini-step ${i}: |pg_loss cuda − cpu| = ${d.pgLoss}`);
    assert.ok(d.loss <= LOSS_TOLERANCE, `mini-step ${i}: |loss cuda − cpu| = ${d.loss}`);
  }
});

test(
  'decode loop on cuda: 16 tokens per run give the 1-per-run generations; cpu draws the same tokens',
  { skip },
  async () => {
    const { Generator } = await import('../../../core/generate/generator.ts');
    const model = loadModelDir(join(FIXTURES, 'untied'));
    const requests = Array.from({ length: 8 }, (_, i) => ({
      promptIds: [256, ...Array.from({ length: 1 + (i % 4) }, (_, t) => 10 + 7 * i + t)],
      prompt: i,
      sample: 0,
    }));
    const opts = { maxNewTokens: 40, sampling: { temperature: 1 }, seed: 3 };
    const generate = async (device: Device | undefined, decodeChunk: number) =>
      (
        await Generator.create(model.config, model.weights, {
          ...(device ? { device } : {}),
          sampleInGraph: true,
          decodeChunk,
        })
      ).generate(requests, opts);
    const chunked = await generate(CUDA, 16);
    const perToken = await generate(CUDA, 1);
    const cpu = await generate(undefined, 16);
    let logprobDiff = 0;
    let cpuTokensAgree = 0;
    let tokens = 0;
    for (const [i, g] of perToken.entries()) {
      assert.deepEqual(chunked[i].tokens, g.tokens, `request ${i}: chunked vs 1 per run on cuda`);
      logprobDiff = Math.max(logprobDiff, maxAbsDiff(chunked[i].logprobs, g.logprobs));
      g.tokens.forEach((t, j) => {
        tokens++;
        if (cpu[i].tokens[j] === t) cpuTokensAgree++;
      });
    }
    record('decodeLoop', {
      maxAbsLogprobDiffChunkedVsPerToken: logprobDiff,
      cpuTokenAgreement: cpuTokensAgree / tokens,
    });
    assert.ok(logprobDiff <= 1e-5, `log-probs chunked vs per token: ${logprobDiff}`);
  },
);

test(
  "float16 weights on cuda: transformers' greedy tokens, log-probs within 1e-2 of its float32 ones",
  { skip },
  async () => {
    const { Generator } = await import('../../../core/generate/generator.ts');
    const { greedyReference } = await import('../../fixtures/qwen2/greedyReference.ts');
    const diffs: Record<string, number> = {};
    for (const variant of ['untied', 'tied'] as const) {
      const ref = greedyReference(variant);
      const generator = await Generator.create(ref.model.config, ref.model.weights, {
        device: CUDA,
        weightDtype: 'float16',
      });
      const [out] = await generator.generate([{ promptIds: ref.prompt, prompt: 0, sample: 0 }], {
        maxNewTokens: ref.tokens.length,
        sampling: { temperature: 0 },
        seed: 0,
      });
      assert.deepEqual(out.tokens, ref.tokens, variant);
      diffs[variant] = Math.max(...out.logprobs.map((lp, s) => Math.abs(lp - ref.logprobs[s])));
    }
    record('float16Weights', { maxAbsLogprobDiffVsHfFloat32: diffs });
    for (const [variant, d] of Object.entries(diffs)) assert.ok(d <= 1e-2, `${variant}: ${d}`);
  },
);
