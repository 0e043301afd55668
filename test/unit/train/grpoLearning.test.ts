/**
 * End to end on a tiny model: sampling → verifiable reward → GRPO advantages → PPO-clip update, with the
 * STILL-3 1.5B run's algorithm settings (group-normalised advantages, KL k1 in the reward with β = 0.001
 * against the initial policy, ε = 0.2, per-sequence token mean, two optimizer steps per rollout batch,
 * temperature 1, n = 8). The task is verifiable in code: emit the digits of a number reversed, then EOS.
 * The learning rate is scaled up for a 70k-parameter model (the paper's 2e-6 is for 1.5B).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initOptimizerState } from '../../../core/graph/index.ts';
import type { HostTensor } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { Generator } from '../../../core/generate/generator.ts';
import { parseRlAlgorithmConfig } from '../../../core/config/rl.ts';
import { grpoAdvantage, groupIdsFromLayout } from '../../../core/rl/advantages.ts';
import { k1Kl } from '../../../core/rl/kl.ts';
import { PolicyUpdater } from '../../../core/train/policyUpdate.ts';
import { ResponseScorer } from '../../../core/train/responseLogProbs.ts';

const SEP = 10;
const EOS = 11;
const DIGITS = 2;
const PROMPTS = 32;
const N = 8;
const MAX_STEPS = 200;
const TARGET = 0.9;

/** Fraction of the target (reversed digits, then EOS) reproduced position by position. */
function reversalReward(prompt: number[], response: number[]): number {
  const target = [...prompt].reverse().concat([EOS]);
  return target.reduce((n, tok, k) => n + (response[k] === tok ? 1 : 0), 0) / target.length;
}

test('GRPO with the paper’s 1.5B settings learns a verifiable task to ≥ 0.9 of the maximum reward', async () => {
  const config = makeQwen2Config({
    vocabSize: 12,
    hiddenSize: 64,
    intermediateSize: 128,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    maxPositionEmbeddings: 32,
    eosTokenId: [EOS],
  });
  const algo = parseRlAlgorithmConfig({
    kl: { placement: 'reward', estimator: 'k1', coef: 0.001 },
    miniBatchSize: (PROMPTS * N) / 2,
    microBatchSize: (PROMPTS * N) / 4,
    optimizer: { lr: 1e-3 },
  });
  const reference = initQwen2Weights(config, 0);
  const params: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(config)) params[p.name] = { data: reference.get(p.name)!, dims: p.shape };
  let state = initOptimizerState(params);
  const generator = await Generator.create(config, reference);
  const scorer = await ResponseScorer.create(config);
  const updater = await PolicyUpdater.create(config, algo);

  let s = 2024;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const history: number[] = [];
  for (let step = 0; step < MAX_STEPS; step++) {
    const prompts = Array.from({ length: PROMPTS }, () =>
      Array.from({ length: DIGITS }, () => Math.floor(rand() * 10)),
    );
    const requests = prompts.flatMap((p, i) =>
      Array.from({ length: N }, (_, k) => ({ promptIds: [...p, SEP], prompt: i, sample: k })),
    );
    const outs = await generator.generate(requests, {
      maxNewTokens: DIGITS + 1,
      sampling: { temperature: 1 },
      seed: 1,
      step,
      stopTokenIds: [EOS],
    });
    const taskRewards = outs.map((o, i) => reversalReward(prompts[requests[i].prompt], o.tokens));
    // KL in the reward: each response's reward minus β·Σ_t k1 against the reference (initial) policy.
    const refLogprobs = await scorer.logProbs(
      reference,
      requests.map((r, i) => ({ promptIds: r.promptIds, responseIds: outs[i].tokens })),
      1,
      64,
    );
    const rewards = taskRewards.map(
      (r, i) =>
        r - algo.kl.coef * outs[i].logprobs.reduce((sum, lp, k) => sum + k1Kl(lp, refLogprobs[i][k]), 0),
    );
    const advantages = grpoAdvantage(rewards, groupIdsFromLayout(PROMPTS, N));
    const rows = outs.map((o, i) => ({
      promptIds: requests[i].promptIds,
      responseIds: o.tokens,
      oldLogprobs: o.logprobs,
      sampled: o.sampled,
      advantages: o.tokens.map(() => advantages[i]),
    }));
    const r = await updater.update(state, rows, {
      seed: 1,
      step,
      temperature: 1,
      lr: algo.optimizer.lr,
      klCoef: algo.kl.coef,
    });
    assert.equal(r.metrics.length, 2, 'two optimizer steps per rollout batch');
    state = r.state;
    generator.setWeights(new Map(Object.entries(state.params).map(([k, v]) => [k, v.data as Float32Array])));
    history.push(taskRewards.reduce((a, b) => a + b, 0) / taskRewards.length);
    const recent = history.slice(-5);
    if (recent.length === 5 && recent.reduce((a, b) => a + b, 0) / 5 >= TARGET) break;
  }
  const initial = history[0];
  const final = history.slice(-5).reduce((a, b) => a + b, 0) / 5;
  assert.ok(initial < 0.25, `initial mean reward ${initial}`);
  assert.ok(
    final >= TARGET,
    `mean reward of the last 5 steps ${final.toFixed(3)} after ${history.length} steps (initial ${initial.toFixed(3)})`,
  );
});
