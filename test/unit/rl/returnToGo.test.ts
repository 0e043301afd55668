// REINFORCE++'s per-token return-to-go against verl's compute_reinforce_plus_plus_outcome_advantage,
// transcribed below as verl writes it (a padded [batch, length] loop backwards with the reset at masked
// positions, then masked_whiten with its +1e-8 in masked_mean's denominator), and against hand values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reinforcePlusPlusAdvantage } from '../../../core/rl/advantages.ts';
import {
  reinforcePlusPlusTokenAdvantages,
  returnToGo,
  tokenRewardsPerResponse,
} from '../../../core/rl/returnToGo.ts';
import { rlAlgorithmSchema } from '../../../core/config/rl.ts';
import { mulberry32 } from '../../../core/random.ts';

/** verl: returns via the reversed loop with `running_return *= response_mask[:, t]`, then masked_whiten. */
function verlReinforcePlusPlus(rewards: number[][], mask: number[][], gamma: number): number[][] {
  return verlWhiten(verlReturns(rewards, mask, gamma), mask);
}

function verlReturns(rewards: number[][], mask: number[][], gamma: number): number[][] {
  const bs = rewards.length;
  const length = rewards[0].length;
  const returns = rewards.map((r) => r.map(() => 0));
  const running = new Array<number>(bs).fill(0);
  for (let t = length - 1; t >= 0; t--) {
    for (let b = 0; b < bs; b++) {
      running[b] = rewards[b][t] + gamma * running[b];
      returns[b][t] = running[b];
      running[b] = running[b] * mask[b][t];
    }
  }
  return returns;
}

function verlWhiten(returns: number[][], mask: number[][]): number[][] {
  const maskedMean = (v: number[][]) => {
    let s = 0;
    let m = 0;
    v.forEach((row, b) => row.forEach((x, t) => ((s += x * mask[b][t]), (m += mask[b][t]))));
    return s / (m + 1e-8);
  };
  let maskSum = 0;
  mask.forEach((row) => row.forEach((m) => (maskSum += m)));
  const mean = maskedMean(returns);
  const variance =
    maskedMean(returns.map((row) => row.map((x) => (x - mean) ** 2))) * (maskSum / (maskSum - 1));
  return returns.map((row, b) => row.map((x, t) => ((x - mean) / Math.sqrt(variance + 1e-8)) * mask[b][t]));
}

function close(actual: number, expected: number, what: string, tol = 1e-7): void {
  assert.ok(
    Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} vs ${expected}`,
  );
}

test('returnToGo: discounted sums backwards, by hand', () => {
  const r = [-0.1, -0.2, 0.7];
  assert.deepEqual(
    Array.from(returnToGo(r, 1)).map((x) => +x.toFixed(12)),
    [0.4, 0.5, 0.7],
  );
  const half = returnToGo(r, 0.5);
  close(half[2], 0.7, 'G2');
  close(half[1], -0.2 + 0.5 * 0.7, 'G1');
  close(half[0], -0.1 + 0.5 * (-0.2 + 0.5 * 0.7), 'G0');
  assert.throws(() => returnToGo(r, 1.5), /gamma must be in \[0, 1\]/);
});

test('KL in the reward, prefix masks: equals verl on a padded batch (γ = 1 and γ = 0.9)', () => {
  const u = mulberry32(21);
  const length = 9;
  const lengths = [9, 4, 1, 7, 9, 2, 5, 6];
  const logprobs = lengths.map((l) => Array.from({ length: l }, () => -3 * u()));
  const refLogprobs = lengths.map((l) => Array.from({ length: l }, () => -3 * u()));
  const masks = lengths.map((l) => new Array<number>(l).fill(1));
  const outcome = lengths.map((_, i) => [1, -1, -2][i % 3]);
  for (const gamma of [1, 0.9]) {
    for (const estimator of ['k1', 'k3'] as const) {
      const tokenRewards = tokenRewardsPerResponse({
        outcomeRewards: outcome,
        logprobs,
        refLogprobs,
        masks,
        coef: 0.05,
        estimator,
      });
      // verl's side: token_level_rewards = scores − β·kld on the padded layout.
      const pad = (rows: ArrayLike<number>[]) =>
        rows.map((row) => Array.from({ length }, (_, t) => (t < row.length ? row[t] : 0)));
      const padMask = pad(masks);
      const expected = verlReinforcePlusPlus(pad(tokenRewards), padMask, gamma);
      const ours = reinforcePlusPlusTokenAdvantages(tokenRewards, masks, gamma);
      ours.forEach((row, b) =>
        row.forEach((a, t) => close(a, expected[b][t], `${estimator} γ=${gamma} [${b}][${t}]`)),
      );
      // The outcome sits on the last token, beside that token's own penalty only.
      const last = tokenRewards[0][length - 1] - outcome[0];
      const x = logprobs[0][length - 1] - refLogprobs[0][length - 1];
      close(last, -0.05 * (estimator === 'k1' ? x : Math.exp(-x) + x - 1), `${estimator} last token`);
    }
  }
});

test('without KL and with γ = 1 it is the per-response REINFORCE++ with token weights', () => {
  const masks = [[1, 1, 1], [1], [1, 1, 0, 0, 1], [1, 1]];
  const outcome = [1, -1, 0.5, -2];
  const tokenRewards = tokenRewardsPerResponse({
    outcomeRewards: outcome,
    logprobs: masks.map((m) => m.map(() => -1)),
    masks,
    coef: 0.05,
    estimator: 'k1',
  });
  const perToken = reinforcePlusPlusTokenAdvantages(tokenRewards, masks, 1);
  const perResponse = reinforcePlusPlusAdvantage(
    outcome,
    masks.map((m) => m.reduce((a, b) => a + b, 0)),
  );
  perToken.forEach((row, b) =>
    row.forEach((a, t) => close(a, masks[b][t] ? perResponse[b] : 0, `[${b}][${t}]`, 1e-12)),
  );
});

test('a tool turn inside a response: the return runs through it (verl would reset there)', () => {
  // sampled, sampled, tool, tool, sampled(last, outcome 1); KL only on sampled tokens.
  const masks = [
    [1, 1, 0, 0, 1],
    [1, 1],
  ];
  const tokenRewards = [Float64Array.from([-0.1, -0.1, 0, 0, 0.9]), Float64Array.from([-0.2, -0.8])];
  const returns = returnToGo(tokenRewards[0], 1);
  assert.deepEqual(
    Array.from(returns).map((x) => +x.toFixed(12)),
    [0.7, 0.8, 0.9, 0.9, 0.9],
  );
  // verl's reset at the tool tokens leaves the tokens before them only their own KL (returns −0.2, −0.1);
  // here they carry the outcome (0.7, 0.8), and the whitened advantages rank them above the other response.
  const verl = verlReturns(
    [
      [-0.1, -0.1, 0, 0, 0.9],
      [-0.2, -0.8, 0, 0, 0],
    ],
    [
      [1, 1, 0, 0, 1],
      [1, 1, 0, 0, 0],
    ],
    1,
  );
  close(verl[0][0], -0.2, 'verl resets at the tool tokens');
  close(verl[0][1], -0.1, 'verl resets at the tool tokens');
  const ours = reinforcePlusPlusTokenAdvantages(tokenRewards, masks, 1);
  assert.ok(ours[0][0] > 0 && ours[0][1] > 0 && ours[1][0] < 0, `ours ${ours[0][0]}, ${ours[1][0]}`);
  assert.equal(ours[0][2], 0, 'tool tokens get no advantage');
  assert.equal(ours[0][3], 0);
});

test('config: gamma is REINFORCE++ only and in [0, 1]', () => {
  assert.equal(
    rlAlgorithmSchema.parse({ advantage: { estimator: 'reinforcePlusPlus', gamma: 0.99 } }).advantage.gamma,
    0.99,
  );
  assert.equal(rlAlgorithmSchema.parse({}).advantage.gamma, undefined);
  assert.throws(() => rlAlgorithmSchema.parse({ advantage: { gamma: 0.9 } }), /only applies to estimator/);
  assert.throws(
    () => rlAlgorithmSchema.parse({ advantage: { estimator: 'reinforcePlusPlus', gamma: 1.2 } }),
    /\[0, 1\]/,
  );
});
