/**
 * The PyTorch trainer (trainers/torch) against the ONNX trainer (core/train PolicyUpdater): the same scored
 * batch and the same weights through both, in float64, for every advantage estimator, KL placement and
 * estimator, KL schedule, loss aggregation, clip-higher and dual-clip, entropy bonus and LR schedule the run
 * config allows, and LoRA (adapters trained on a frozen base); two RL steps each, each of two mini-batches of two micro-batches (4 AdamW steps). The torch
 * side runs under FSDP2 with one rank and with two gloo ranks (each rank gets one micro-batch). Loss,
 * every metric, and the final weights and AdamW moments must agree within 1e-6 relative. One case again in
 * float32 (the ONNX trainer's production dtype): loss and metrics within 1e-4; the weights' largest
 * difference is printed, not bounded (AdamW amplifies rounding where a gradient is near zero).
 *
 * Needs the venv trainers/torch/install.sh makes (test/run.sh runs it; venv.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTALL_HINT, torchEnv, torchVenvBin } from './venv.ts';
import { initOptimizerState, type HostTensor, type OptimizerState } from '../../../core/graph/index.ts';
import { makeQwen2Config, qwen2ConfigToJsonText } from '../../../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { initLoraWeights, loraParameters } from '../../../core/model/lora.ts';
import { parseRlAlgorithmConfig, type RlAlgorithmConfigInput } from '../../../core/config/rl.ts';
import { advantageEstimators } from '../../../core/rl/advantages.ts';
import { klCoefAt } from '../../../core/rl/klSchedule.ts';
import { lrAt } from '../../../core/rl/lrSchedule.ts';
import { PolicyUpdater, type UpdateMetrics } from '../../../core/train/policyUpdate.ts';
import { ResponseScorer } from '../../../core/train/responseLogProbs.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';
import { readF64Safetensors, writeF64Safetensors } from '../../../bench/update/f64Safetensors.ts';

const TOLERANCE = 1e-6;
const FLOAT32_METRIC_TOLERANCE = 1e-4;
const FLOAT32_CASE = 'float32GrpoTokenMeanK3Cosine';

const config = makeQwen2Config({
  vocabSize: 48,
  hiddenSize: 16,
  intermediateSize: 24,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  tieWordEmbeddings: true,
});

/** Each value of every option appears in at least one case. */
const CASES: Record<string, RlAlgorithmConfigInput> = {
  grpoTokenMeanK3Cosine: {
    advantage: { estimator: 'grpo' },
    lossAgg: 'token-mean',
    kl: { placement: 'loss', estimator: 'k3', coef: 0.05, schedule: 'cosine', annealSteps: 3 },
    clip: { low: 0.2, high: 0.28, dualClip: 3 },
    entropyCoef: 0.01,
    optimizer: { lr: 3e-3, schedule: 'warmupCosine', warmupSteps: 1, decaySteps: 3, minLrRatio: 0.1 },
  },
  drGrpoSeqMeanTokenMeanK1: {
    advantage: { estimator: 'drGrpo' },
    lossAgg: 'seq-mean-token-mean',
    kl: { placement: 'loss', estimator: 'k1', coef: 0.1 },
    optimizer: { lr: 2e-3, maxGradNorm: 0.05 },
  },
  rlooSeqMeanTokenSumK2: {
    advantage: { estimator: 'rloo' },
    lossAgg: 'seq-mean-token-sum',
    kl: { placement: 'loss', estimator: 'k2', coef: 0.2 },
    clip: { low: 0.1, high: 0.1, dualClip: 1.5 },
    optimizer: { lr: 1e-3, schedule: 'warmupConstant', warmupSteps: 2, weightDecay: 0.1 },
  },
  reinforcePlusPlusSumNormKlReward: {
    advantage: { estimator: 'reinforcePlusPlus' },
    lossAgg: 'seq-mean-token-sum-norm',
    lossAggMaxLength: 7,
    kl: { placement: 'reward', estimator: 'k1' },
    entropyCoef: 0.05,
    optimizer: { lr: 5e-3, betas: [0.8, 0.99], eps: 1e-6 },
  },
  reinforcePlusPlusBaselineNoKl: {
    advantage: { estimator: 'reinforcePlusPlusBaseline' },
    lossAgg: 'token-mean',
    kl: { placement: 'none' },
    epochs: 1,
    shuffle: false,
    optimizer: { lr: 4e-3 },
  },
  // LoRA (adapters on four of the seven linears; A and B both non-zero, so both get gradients from step 1).
  loraGrpoTokenMeanK3: {
    advantage: { estimator: 'grpo' },
    lossAgg: 'token-mean',
    kl: { placement: 'loss', estimator: 'k3', coef: 0.05 },
    clip: { low: 0.2, high: 0.28, dualClip: 3 },
    entropyCoef: 0.01,
    lora: { rank: 2, alpha: 6, targetModules: ['q_proj', 'v_proj', 'up_proj', 'down_proj'] },
    optimizer: { lr: 3e-2, weightDecay: 0.1 },
  },
  reinforceBaselineSeqMeanTokenMean: {
    advantage: { estimator: 'reinforceBaseline' },
    lossAgg: 'seq-mean-token-mean',
    kl: { placement: 'loss', estimator: 'k3', coef: 0.01 },
    clip: { low: 0.2, high: 0.2 },
    optimizer: { lr: 3e-3 },
  },
};

/** 8 responses, 2 prompts × 4; a tool-inserted token in some; values exact in float32 (the packer's type). */
async function scoredRows(estimator: keyof typeof advantageEstimators): Promise<RolloutRow[]> {
  let s = 11;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const base = Array.from({ length: 8 }, (_, i) => ({
    promptIds: Array.from({ length: 2 + (i % 3) }, () => 1 + Math.floor(r() * 47)),
    responseIds: Array.from({ length: 2 + ((i * 5) % 6) }, () => Math.floor(r() * 48)),
  }));
  const scorer = await ResponseScorer.create(config);
  const current = await scorer.logProbs(initQwen2Weights(config, 3), base, 1.0);
  const rewards = base.map(() => [1, -1, -2][Math.floor(r() * 3)]);
  const sampled = base.map((row, i) => row.responseIds.map((_, k) => !(i % 3 === 0 && k === 1)));
  const { advantages } = advantageEstimators[estimator]({
    rewards,
    groupIds: [0, 0, 0, 0, 1, 1, 1, 1],
    tokenCounts: sampled.map((m) => m.filter(Boolean).length),
    baseline: { value: 0.25, count: 4 },
  });
  // The sampler's and reference's log-probs near the policy's, so some tokens clip and some do not.
  return base.map((row, i) => ({
    ...row,
    oldLogprobs: current[i].map((lp) => Math.fround(lp + (r() - 0.5) * 0.6)),
    refLogprobs: current[i].map((lp) => Math.fround(lp + (r() - 0.5) * 0.4)),
    sampled: sampled[i],
    advantages: row.responseIds.map(() => Math.fround(advantages[i])),
  }));
}

function relDiff(a: number, b: number): number {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);
}

interface OnnxResult {
  state: OptimizerState;
  metrics: UpdateMetrics[];
}

async function runOnnx(
  dir: string,
  name: string,
  input: RlAlgorithmConfigInput,
  dtype: 'float32' | 'float64',
): Promise<OnnxResult> {
  const algo = parseRlAlgorithmConfig({ ...input, miniBatchSize: 4, microBatchSize: 2 });
  const rows = await scoredRows(algo.advantage.estimator);
  const weights = initQwen2Weights(config, 3);
  const asDtype = (x: Float32Array) => (dtype === 'float64' ? Float64Array.from(x) : x);
  const params: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(config))
    params[p.name] = { data: asDtype(weights.get(p.name)!), dims: [...p.shape] };
  // LoRA: the adapters are the trained state; the base is fed frozen (in the graph's dtype).
  const adapters: Record<string, HostTensor> = {};
  if (algo.lora) {
    let seed = 29;
    const r = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const init = initLoraWeights(config, algo.lora, 5);
    for (const p of loraParameters(config, algo.lora)) {
      let b = init.get(p.name)!;
      // PEFT starts B at zero; a non-zero B makes A's gradient non-zero from the first step.
      if (p.name.endsWith('lora_B.weight')) b = b.map(() => Math.fround((r() - 0.5) * 0.2));
      adapters[p.name] = { data: asDtype(b), dims: [...p.shape] };
    }
  }
  const base = algo.lora
    ? new Map(Object.entries(params).map(([k, t]) => [k, t.data as unknown as Float32Array]))
    : undefined;
  const trained = algo.lora ? adapters : params;
  const updater = await PolicyUpdater.create(config, algo, {}, dtype);
  // The update overwrites the state's arrays in place; `trained` stays the initial values written below.
  let state = initOptimizerState(
    Object.fromEntries(Object.entries(trained).map(([k, t]) => [k, { data: t.data.slice(), dims: t.dims }])),
  );
  const metrics: UpdateMetrics[] = [];
  const totalSteps = 3;
  const steps = [0, 1].map((step) => ({
    seed: 7,
    step,
    temperature: 0.9,
    lr: lrAt(step, {
      schedule: algo.optimizer.schedule,
      lr: algo.optimizer.lr,
      warmupSteps: algo.optimizer.warmupSteps,
      totalSteps: algo.optimizer.decaySteps ?? totalSteps,
      minLrRatio: algo.optimizer.minLrRatio,
    }),
    klCoef: klCoefAt(step, algo.kl),
    maxLength: 6,
  }));
  for (const ctx of steps) {
    const r = await updater.update(state, rows, ctx, base);
    state = r.state;
    metrics.push(...r.metrics);
  }
  const caseDir = join(dir, name);
  mkdirSync(caseDir);
  writeFileSync(join(caseDir, 'config.json'), qwen2ConfigToJsonText(config));
  writeF64Safetensors(join(caseDir, 'initial.safetensors'), { ...params, ...adapters });
  writeFileSync(join(caseDir, 'case.json'), JSON.stringify({ dtype, algorithm: algo, rows, steps }));
  // The ONNX side's results beside the inputs: PARITY_KEEP=1 keeps the folder for a closer look.
  writeFileSync(join(caseDir, 'onnx.json'), JSON.stringify({ step: state.step, metrics }));
  const named = (prefix: string, r: Record<string, HostTensor>) =>
    Object.fromEntries(Object.entries(r).map(([k, t]) => [`${prefix}.${k}`, t]));
  writeF64Safetensors(join(caseDir, 'onnx.safetensors'), {
    ...named('param', state.params),
    ...named('m', state.m),
    ...named('v', state.v),
  });
  return { state, metrics };
}

function runTorch(dir: string, ranks: number, out: string): void {
  const bin = torchVenvBin();
  const args =
    ranks === 1
      ? [join(bin, 'python'), '-m', 'reasonloop_torch.parity', dir, out]
      : [join(bin, 'torchrun'), '--nproc-per-node', String(ranks), '-m', 'reasonloop_torch.parity', dir, out];
  const r = spawnSync(args[0], args.slice(1), { env: torchEnv(), encoding: 'utf8' });
  assert.equal(r.status, 0, `${args.join(' ')} failed (${INSTALL_HINT}):\n${r.stderr}`);
}

/** Largest relative difference of the metrics, and of every weight and moment (with where it is). */
function compare(
  dir: string,
  name: string,
  out: string,
  expected: OnnxResult,
): { metrics: number; metricAt: string; tensors: number; tensorAt: string; weightAbs: number } {
  const got = JSON.parse(readFileSync(join(dir, name, `${out}.json`), 'utf8')) as {
    step: number;
    metrics: Record<string, number>[];
  };
  assert.equal(got.step, expected.state.step, `${name} ${out}: AdamW steps`);
  assert.equal(got.metrics.length, expected.metrics.length, `${name} ${out}: optimizer steps`);
  const r = { metrics: 0, metricAt: '', tensors: 0, tensorAt: '', weightAbs: 0 };
  expected.metrics.forEach((m, i) => {
    for (const [key, value] of Object.entries(m)) {
      const d = relDiff(got.metrics[i][key], value);
      if (d > r.metrics)
        Object.assign(r, {
          metrics: d,
          metricAt: `step ${i} ${key}: torch ${got.metrics[i][key]}, onnx ${value}`,
        });
    }
  });
  const tensors = readF64Safetensors(join(dir, name, `${out}.safetensors`));
  for (const [kind, record] of [
    ['param', expected.state.params],
    ['m', expected.state.m],
    ['v', expected.state.v],
  ] as const) {
    for (const [p, t] of Object.entries(record)) {
      const mine = tensors.get(`${kind}.${p}`);
      assert.ok(mine, `${name} ${out}: no ${kind}.${p}`);
      for (let k = 0; k < t.data.length; k++) {
        const d = relDiff(mine[k], Number(t.data[k]));
        if (d > r.tensors)
          Object.assign(r, {
            tensors: d,
            tensorAt: `${kind}.${p}[${k}]: torch ${mine[k]}, onnx ${t.data[k]}`,
          });
        if (kind === 'param') r.weightAbs = Math.max(r.weightAbs, Math.abs(mine[k] - Number(t.data[k])));
      }
    }
  }
  return r;
}

test('the torch trainer under FSDP2 (1 and 2 ranks) equals the ONNX trainer: float64 within 1e-6, float32 metrics within 1e-4', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reasonloop-torch-parity-'));
  try {
    const onnx = new Map<string, OnnxResult>();
    const only = process.env.PARITY_CASE;
    for (const [name, input] of Object.entries(CASES))
      if (!only || only === name) onnx.set(name, await runOnnx(dir, name, input, 'float64'));
    // float32: the production path of the ONNX trainer (PolicyUpdater's default dtype).
    onnx.set(FLOAT32_CASE, await runOnnx(dir, FLOAT32_CASE, CASES.grpoTokenMeanK3Cosine, 'float32'));
    runTorch(dir, 1, 'torch1');
    runTorch(dir, 2, 'torch2');
    let worst = 0;
    const float32: Record<string, number> = {};
    for (const [name, expected] of onnx) {
      for (const out of ['torch1', 'torch2']) {
        const r = compare(dir, name, out, expected);
        if (name === FLOAT32_CASE) {
          assert.ok(r.metrics <= FLOAT32_METRIC_TOLERANCE, `${name} ${out} ${r.metricAt}`);
          float32[`${out}MetricMaxRelDiff`] = r.metrics;
          float32[`${out}WeightMaxAbsDiff`] = r.weightAbs;
          continue;
        }
        assert.ok(r.metrics <= TOLERANCE, `${name} ${out} ${r.metricAt}`);
        assert.ok(r.tensors <= TOLERANCE, `${name} ${out} ${r.tensorAt} (relative difference ${r.tensors})`);
        worst = Math.max(worst, r.metrics, r.tensors);
      }
    }
    console.log(JSON.stringify({ parityMaxRelDiff: worst, float32 }));
  } finally {
    if (process.env.PARITY_KEEP) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
});
