/**
 * scoreRollouts: the verifiable reward of every response, the KL to the reference policy in the reward or
 * as per-token reference log-probs for the loss — log-probs referenceLogProbs computed on the trainer's
 * device and stored (`referenceKey`) —, and group advantages by the configured estimator. Writes the
 * trainer's rows (RolloutRow) as JSON; returns reward summaries.
 */
import { klCoefAt } from '../core/rl/klSchedule.ts';
import { klPenalizedRewards, responseKlSums } from '../core/rl/kl.ts';
import { rolloutRecordsKey } from '../core/metrics/rolloutRecords.ts';
import { advantageEstimators, FRESH_BASELINE, type RunningBaseline } from '../core/rl/advantages.ts';
import { logprobMismatch, type LogprobMismatch } from '../core/rl/logprobMismatch.ts';
import type { RolloutRow } from '../core/train/rolloutBatch.ts';
import { parseRunConfig, type RunConfig } from '../core/config/run.ts';
import { reinforcePlusPlusTokenAdvantages, tokenRewardsPerResponse } from '../core/rl/returnToGo.ts';
import { FAILURE, permanent } from './failures.ts';
import { parsedConfig } from './parsedConfig.ts';
import { rolloutKey, runStore, runTask, verifiedManifest } from './runtime.ts';
import { checkpointLogProbsOf, referenceLogProbsOf, storedReferenceLogProbs } from './referenceLogProbs.ts';
import { pickGroups, sampledStepRecords, scoreGroups, trainedGroups } from './stepBatch.ts';
import { CPU_DEVICE } from '../core/graph/device.ts';
import type { RolloutRecord } from './sampleRollouts.ts';
import { stepRecords } from './rolloutRecords.ts';
import type { ScoreRolloutsInput, ScoreRolloutsOutput } from './types.ts';

export async function scoreRollouts(input: ScoreRolloutsInput): Promise<ScoreRolloutsOutput> {
  const started = performance.now();
  const config = parsedConfig(parseRunConfig, input.config);
  const store = runStore(config);
  const { algorithm: algo, rollout } = config;
  const task = await runTask(config);
  const sampledRecords = await sampledStepRecords(store, rollout, input);
  const scoredGroups = scoreGroups(task, sampledRecords);
  // A refilled step trains on promptsPerStep groups: the first ones with signal, over all rounds.
  const chosen = trainedGroups(scoredGroups.groupKeep, input.rounds ?? 1, rollout);
  const pick = <T>(xs: readonly T[]): T[] => pickGroups(xs, chosen, rollout.n);
  const records = pick(sampledRecords);
  const taskRewards = pick(scoredGroups.taskRewards);
  const correct = pick(scoredGroups.correct);
  const inLoss = pick(scoredGroups.inLoss);
  const parts = pick(scoredGroups.parts);
  const reasons = pick(scoredGroups.reasons);

  const klCoef = klCoefAt(input.step - 1, algo.kl);
  // The policy's log-probs of each response: the sampler's, or recomputed from the checkpoint of step − 1
  // (on the CPU, as this activity's other passes; the same numbers whichever engine sampled).
  let policyLogprobs = records.map((r) => r.logprobs);
  let mismatch: LogprobMismatch | undefined;
  if (algo.recomputeOldLogprobs) {
    const recomputed = await checkpointLogProbsOf(config, input.step - 1, records, CPU_DEVICE);
    mismatch = logprobMismatch(
      policyLogprobs,
      recomputed,
      records.map((r) => r.sampled),
    );
    policyLogprobs = recomputed;
  }
  let refLogprobs: number[][] | undefined;
  if (algo.kl.placement !== 'none') {
    refLogprobs = input.referenceKey
      ? await storedReferenceLogProbs(config, input.referenceKey)
      : // A step scheduled before referenceLogProbs existed (a history recorded then) has no key.
        await referenceLogProbsOf(config, input.step, records, CPU_DEVICE);
    checkReferenceShape(input.step, refLogprobs, records);
  }
  // The tokens whose KL to the reference counts: the ones the policy chose (verl's response_mask). Text a
  // tool inserted (sampled: false) was never sampled from π, so it enters neither the reward nor the metric.
  const klMasks = records.map((r) => r.sampled.map(Number));
  const klSums = refLogprobs && responseKlSums(algo.kl.estimator, policyLogprobs, refLogprobs, klMasks);
  // KL in the reward: each response's reward minus β·Σ_t KL_t against the reference policy.
  const rewards =
    algo.kl.placement === 'reward' ? klPenalizedRewards(taskRewards, klSums!, klCoef) : taskRewards;
  const running = algo.advantage.estimator === 'reinforceBaseline';
  const { advantages, baseline } = advantageEstimators[algo.advantage.estimator]({
    rewards,
    groupIds: records.map((r) => r.prompt),
    tokenCounts: records.map((r) => r.sampled.filter(Boolean).length),
    epsilon: algo.advantage.epsilon,
    ...(running
      ? {
          baseline: baselineAfter((await verifiedManifest(store, config.runId, input.step - 1)).metrics),
          baselineDecay: algo.advantage.baselineDecay,
        }
      : {}),
  });
  const tokenAdvantages = returnToGoAdvantages(
    algo,
    policyLogprobs,
    taskRewards,
    klMasks,
    klCoef,
    refLogprobs,
  );
  const rows: RolloutRow[] = records.map((r, i) => ({
    promptIds: r.promptIds,
    responseIds: r.tokens,
    oldLogprobs: policyLogprobs[i],
    // A response the length strategy or a group filter leaves out keeps its place but enters no loss term.
    sampled: inLoss[i] ? r.sampled : r.sampled.map(() => false),
    advantages: tokenAdvantages ? Array.from(tokenAdvantages[i]) : r.tokens.map(() => advantages[i]),
    ...(algo.kl.placement === 'loss' ? { refLogprobs: refLogprobs![i] } : {}),
  }));
  const key = rolloutKey(config.runId, input.step, 'scored.json');
  await store.put(key, new TextEncoder().encode(JSON.stringify(rows)));
  if (config.orchestration.rolloutRecords) {
    const prompts = [...new Set(sampledRecords.map((r) => r.prompt))];
    const views = stepRecords(config.runId, input.step, task, records, {
      taskRewards,
      rewards,
      correct,
      inLoss,
      advantages: records.map((r, i) => rows[i].advantages[Math.max(0, r.sampled.indexOf(true))] ?? 0),
      parts,
      reasons,
      groupKept: new Map(prompts.map((p, g) => [p, scoredGroups.groupKeep[g]])),
    });
    await store.put(
      rolloutRecordsKey(config.runId, input.step),
      new TextEncoder().encode(JSON.stringify(views)),
    );
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  // Per-token KL to the reference, averaged over the tokens of `klMasks` (the estimator of the config).
  const klTokens = klMasks.reduce((n, m) => n + m.reduce((a, b) => a + b, 0), 0);
  return {
    key,
    ...(baseline ? { baseline } : {}),
    klToReference: klSums ? klSums.reduce((a, b) => a + b, 0) / Math.max(1, klTokens) : 0,
    completionRatio: mean(records.map((r) => Number(r.finishReason !== 'length'))),
    meanTaskReward: mean(taskRewards),
    meanReward: mean(rewards),
    accuracy: mean(correct.map(Number)),
    keptFraction: mean(inLoss.map(Number)),
    ...(mismatch ? { oldLogprobDiffMean: mismatch.mean, oldLogprobDiffMax: mismatch.max } : {}),
    ...(chosen ? { groupsWithSignal: scoredGroups.groupKeep.filter(Boolean).length } : {}),
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * REINFORCE++'s per-token advantages when a token's return-to-go differs from its response's return: KL
 * in the reward (a token is charged for the KL after it only) or γ < 1. Otherwise undefined: every token
 * of a response then has the same return and the per-response estimator gives the same values.
 */
function returnToGoAdvantages(
  algo: RunConfig['algorithm'],
  logprobs: readonly number[][],
  taskRewards: readonly number[],
  masks: readonly number[][],
  klCoef: number,
  refLogprobs: number[][] | undefined,
): Float64Array[] | undefined {
  const gamma = algo.advantage.gamma ?? 1;
  const klInReward = algo.kl.placement === 'reward';
  if (algo.advantage.estimator !== 'reinforcePlusPlus' || (!klInReward && gamma === 1)) return undefined;
  const tokenRewards = tokenRewardsPerResponse({
    outcomeRewards: taskRewards,
    logprobs,
    ...(klInReward ? { refLogprobs } : {}),
    masks,
    coef: klCoef,
    estimator: algo.kl.estimator,
  });
  return reinforcePlusPlusTokenAdvantages(tokenRewards, masks, gamma);
}

/**
 * The running baseline after a step, as its checkpoint recorded it (`baselineValue`, `baselineCount` in the
 * manifest's metrics); fresh before the first step. Carried by the checkpoint, so a resumed run continues
 * the same baseline.
 */
export function baselineAfter(metrics: Record<string, number>): RunningBaseline {
  const { baselineValue, baselineCount } = metrics;
  return baselineCount === undefined ? FRESH_BASELINE : { value: baselineValue, count: baselineCount };
}

/** Reference log-probs of other rows than the step's (another attempt's batch, a corrupt object) are bad data. */
function checkReferenceShape(
  step: number,
  ref: readonly number[][],
  records: readonly RolloutRecord[],
): void {
  const bad = ref.length !== records.length || records.some((r, i) => ref[i]?.length !== r.tokens.length);
  if (bad) {
    throw permanent(
      FAILURE.data,
      `step ${step}: the reference log-probs do not match the step's ${records.length} trained responses`,
    );
  }
}
