/**
 * Scoring one prompt's group of responses as a run config says: verify each answer, apply the reward
 * (STILL 1.5B, zero-RL gate, or plain correctness), the length strategy, DAPO's overlong penalty, and the
 * dynamic-sampling filter. Pure: the same inputs give the same scores.
 */
import type { RewardConfig } from '../config/reward.ts';
import { verifyCountdown } from '../reward/countdown.ts';
import { dapoOverlongPenalty } from '../reward/dapoOverlong.ts';
import { groupHasSignal } from '../reward/dynamicSampling.ts';
import { zeroFormatGate, zeroReward } from '../reward/formatGate.ts';
import {
  lengthRewardRRA,
  lengthRewardRRL,
  overlongMaskORM,
  questionSelectionQS,
  responseSelectionRS,
} from '../reward/lengthStrategies.ts';
import { still15bReward } from '../reward/still.ts';
import { extractAnswer, findBoxes } from '../reward/verify/extract.ts';
import { verifyAnswer } from '../reward/verify/verifyAnswer.ts';

export interface SampledResponse {
  text: string;
  /** Length in tokens. */
  length: number;
  truncated: boolean;
}

export interface GroupInput {
  gold: string;
  responses: SampledResponse[];
  /** Countdown tasks are checked by their own verifier (numbers used, target reached). */
  countdown?: { numbers: number[]; target: number };
}

export interface GroupScore {
  rewards: number[];
  correct: boolean[];
  /** 1 = the response contributes to the loss, 0 = masked (ORM, RS). */
  lossMask: number[];
  /** False when QS or dynamic sampling drops the whole group. */
  keep: boolean;
  /** The verifier's reason per response (for audits and metrics). */
  reasons: string[];
  /**
   * Each response's reward as its terms (they sum to its reward): `answer` (the reward kind's value of
   * the verdict), `length` (what the RRL/RRA strategy changed), `overlong` (DAPO's penalty).
   */
  parts: Record<string, number>[];
}

export function scoreGroup(cfg: RewardConfig, input: GroupInput): GroupScore {
  const n = input.responses.length;
  const rewards: number[] = [];
  const correct: boolean[] = [];
  const reasons: string[] = [];
  for (const r of input.responses) {
    const judged = judge(cfg, input, r.text);
    correct.push(judged.correct);
    reasons.push(judged.reason);
    rewards.push(judged.reward(r));
  }
  const answer = [...rewards];

  let lossMask = new Array<number>(n).fill(1);
  let keep = true;
  const infos = input.responses.map((r, i) => ({ ...r, correct: correct[i] }));
  switch (cfg.lengthStrategy) {
    case 'rrl': {
      const maxLength = cfg.rrlMaxLength ?? cfg.dapoOverlong?.maxLength;
      if (maxLength === undefined)
        throw new Error('reward.rrlMaxLength is required for the RRL length strategy');
      for (let i = 0; i < n; i++) rewards[i] = lengthRewardRRL(infos[i].length, maxLength, rewards[i]);
      break;
    }
    case 'rra':
      for (let i = 0; i < n; i++) rewards[i] = lengthRewardRRA(infos[i].text, rewards[i]);
      break;
    case 'orm':
      lossMask = overlongMaskORM(infos);
      break;
    case 'qs':
      keep = questionSelectionQS(infos);
      break;
    case 'rs': {
      const picked = new Set(responseSelectionRS(infos));
      lossMask = lossMask.map((_, i) => (picked.has(i) ? 1 : 0));
      keep = picked.size > 0;
      break;
    }
    case 'none':
      break;
  }
  const parts = answer.map((a, i) => ({
    answer: a,
    ...(cfg.lengthStrategy === 'rrl' || cfg.lengthStrategy === 'rra' ? { length: rewards[i] - a } : {}),
  }));
  if (cfg.dapoOverlong) {
    const { maxLength, cacheLength, factor } = cfg.dapoOverlong;
    for (let i = 0; i < n; i++) {
      const penalty = dapoOverlongPenalty(infos[i].length, maxLength, cacheLength, factor);
      rewards[i] += penalty;
      Object.assign(parts[i], { overlong: penalty });
    }
  }
  if (cfg.dynamicSampling && !groupHasSignal(rewards)) keep = false;
  return { rewards, correct, lossMask, keep, reasons, parts };
}

interface Judged {
  correct: boolean;
  reason: string;
  reward: (r: SampledResponse) => number;
}

function judge(cfg: RewardConfig, input: GroupInput, text: string): Judged {
  const v = cfg.verifier;
  const check = (answerText: string) => {
    if (input.countdown) {
      const found = extractAnswer(answerText, { mode: 'latex+expr', lastNumberFallback: false });
      return verifyCountdown(input.countdown.numbers, input.countdown.target, found?.text ?? answerText);
    }
    return verifyAnswer(input.gold, answerText, {
      mode: v.mode,
      precision: v.precision,
      timeLimitMs: v.timeLimitMs,
      lastNumberFallback: v.lastNumberFallback,
    });
  };
  if (cfg.kind === 'zero') {
    const gate = zeroFormatGate(text, { thinkOpenedInPrompt: cfg.thinkOpenedInPrompt });
    if (!gate.ok) return { correct: false, reason: `format: ${gate.reason}`, reward: () => 0 };
    const verdict = check(gate.answer!);
    return { correct: verdict.equal, reason: verdict.reason, reward: () => zeroReward(true, verdict.equal) };
  }
  const verdict = check(text);
  if (cfg.kind === 'correctness') {
    return {
      correct: verdict.equal,
      reason: verdict.reason,
      reward: () => (verdict.equal ? cfg.correct : 0),
    };
  }
  const hasBoxed = findBoxes(text).some((b) => !b.unclosed);
  return {
    correct: verdict.equal,
    reason: verdict.reason,
    reward: (r) =>
      still15bReward(
        { correct: verdict.equal, hasBoxed, truncated: r.truncated },
        { correct: cfg.correct, wrong: cfg.wrong, noBoxed: cfg.noBoxed, truncated: cfg.truncated },
      ),
  };
}
