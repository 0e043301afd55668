/**
 * core/rl/ against verl's own functions (verl 0.9.1 on torch float64) and transformers' LR schedulers,
 * evaluated on fixed inputs by fixtures/make_verl_reference.py; no Python at test time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  drGrpoAdvantage,
  grpoAdvantage,
  reinforcePlusPlusAdvantage,
  reinforcePlusPlusBaselineAdvantage,
  rlooAdvantage,
} from '../../../core/rl/advantages.ts';
import { LOSS_AGG_MODES } from '../../../core/rl/aggregation.ts';
import { entropyFromLogits } from './reference/entropy.ts';
import { klPerToken } from '../../../core/rl/kl.ts';
import { lrAt, type LrSchedule } from '../../../core/rl/lrSchedule.ts';
import { ppoClipLoss } from '../../../core/rl/policyLoss.ts';

interface AdvantageCase {
  rewards: number[];
  groupIds: number[];
  tokenCounts?: number[];
  grpo: number[];
  drGrpo?: number[];
  rloo: number[];
  reinforcePlusPlus?: number[];
  reinforcePlusPlusBaseline?: number[];
}
interface PolicyCase {
  oldLogprobs: number[];
  logprobs: number[];
  advantages: number[];
  mask: number[];
  rows: number;
  length: number;
  clip: { low: number; high: number; dualClip: number };
  results: Record<string, { pgLoss: number; pgClipfrac: number; ppoKl: number; pgClipfracLower: number }>;
}
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/verl_reference.json', import.meta.url), 'utf8'),
) as {
  advantages: AdvantageCase[];
  kl: { logprobs: number[]; refLogprobs: number[]; k1: number[]; k2: number[]; k3: number[] };
  policyLoss: PolicyCase[];
  entropy: { logits: number[]; entropy: number }[];
  lr: { schedule: LrSchedule; values: number[] }[];
};

/**
 * Agreement bound: float64 on both sides, different summation orders, plus verl's +1e-8 in masked-mean
 * denominators (relative ≤ 1e-8 of a value of order 1).
 */
const TOLERANCE = 1e-7;

function close(actual: ArrayLike<number>, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]));
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= TOLERANCE * scale,
      `${what}[${i}]: ${actual[i]} vs verl ${expected[i]}`,
    );
  }
}

test('advantages equal verl: GRPO (ε 1e-8), Dr. GRPO, RLOO, REINFORCE++ and its baseline variant', () => {
  assert.equal(fixture.advantages.length, 4);
  fixture.advantages.forEach((c, k) => {
    close(grpoAdvantage(c.rewards, c.groupIds), c.grpo, `case ${k} grpo`);
    close(rlooAdvantage(c.rewards, c.groupIds), c.rloo, `case ${k} rloo`);
    if (c.drGrpo) close(drGrpoAdvantage(c.rewards, c.groupIds), c.drGrpo, `case ${k} drGrpo`);
    if (c.rewards.every((r) => r === c.rewards[0])) {
      // Deliberate difference: verl whitens the rounding error of the mean ((0.1·n)/n ≠ 0.1) through
      // 1/√(0 + 1e-8) into ~3e-7; we return exactly 0 for identical rewards.
      assert.deepEqual(
        Array.from(reinforcePlusPlusAdvantage(c.rewards, c.tokenCounts)),
        c.rewards.map(() => 0),
      );
      assert.ok(c.reinforcePlusPlus!.every((a) => Math.abs(a) < 1e-6));
      return;
    }
    if (c.reinforcePlusPlus) {
      close(
        reinforcePlusPlusAdvantage(c.rewards, c.tokenCounts),
        c.reinforcePlusPlus,
        `case ${k} reinforce++`,
      );
    }
    if (c.reinforcePlusPlusBaseline) {
      close(
        reinforcePlusPlusBaselineAdvantage(c.rewards, c.groupIds, c.tokenCounts),
        c.reinforcePlusPlusBaseline,
        `case ${k} reinforce++ baseline`,
      );
    }
  });
});

test('k1, k2, k3 equal verl kl_penalty, clamps included', () => {
  const { logprobs, refLogprobs } = fixture.kl;
  for (const name of ['k1', 'k2', 'k3'] as const) {
    close(klPerToken(name, logprobs, refLogprobs), fixture.kl[name], name);
  }
});

test('PPO-clip loss and metrics equal verl compute_policy_loss in every aggregation mode', () => {
  for (const [k, c] of fixture.policyLoss.entries()) {
    const seqStarts = Array.from({ length: c.rows + 1 }, (_, s) => s * c.length);
    for (const mode of LOSS_AGG_MODES) {
      const r = ppoClipLoss({ ...c, seqStarts, aggMode: mode, maxLength: c.length });
      const v = c.results[mode];
      const what = `case ${k} ${mode}`;
      close([r.loss], [v.pgLoss], `${what} loss`);
      close([r.clipFrac], [v.pgClipfrac], `${what} clipfrac`);
      close([r.approxKl], [v.ppoKl], `${what} ppo_kl`);
      close([r.dualClipFrac], [v.pgClipfracLower], `${what} clipfrac_lower`);
    }
  }
});

test('entropy equals verl entropy_from_logits', () => {
  for (const c of fixture.entropy) close([entropyFromLogits(c.logits)], [c.entropy], `V=${c.logits.length}`);
});

test('learning rates equal transformers get_constant/cosine_with_min_lr schedules with warm-up', () => {
  for (const c of fixture.lr) {
    close(
      c.values.map((_, step) => lrAt(step, c.schedule)),
      c.values,
      c.schedule.schedule,
    );
  }
});
