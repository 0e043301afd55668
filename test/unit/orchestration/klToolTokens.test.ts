// KL in the reward with a tool turn: scoreRollouts charges the policy only for the tokens it sampled.
// The expected values follow verl's apply_kl_penalty: kld = kl_penalty(old_log_prob, ref_log_prob) ·
// response_mask, token_level_rewards = scores − β·kld, the outcome estimators' reward = Σ_t of that; its
// metric averages kld over the response_mask tokens. Tool output (sampled: false) is outside response_mask.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { prepareRun } from '../../../activities/prepareRun.ts';
import { sampleRollouts, type RolloutRecord } from '../../../activities/sampleRollouts.ts';
import { scoreRollouts } from '../../../activities/scoreRollouts.ts';
import { readCheckpointWeights, modelConfig, rolloutKey } from '../../../activities/runtime.ts';
import type { RunPlan, SampleRolloutsOutput, ScoreRolloutsOutput } from '../../../activities/types.ts';
import { ResponseScorer } from '../../../core/train/responseLogProbs.ts';
import { openStore } from '../../../core/store/index.ts';
import { parseRunConfig } from '../../../core/config/run.ts';
import { readStepRecords } from '../../../core/metrics/rolloutRecords.ts';
import { reinforcePlusPlusTokenAdvantages } from '../../../core/rl/returnToGo.ts';
import { reverseDigitsReward } from '../../../core/task/reverseDigits.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';
import { TINY_DIGITS_QWEN2 } from './configFixtures.ts';

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

const dir = mkdtempSync(join(tmpdir(), 'kl-tool-tokens-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BETA = 0.5;
const config = {
  runId: 'kltools',
  seed: 5,
  steps: 1,
  model: {
    init: {
      seed: 0,
      config: { ...TINY_DIGITS_QWEN2, maxPositionEmbeddings: 24 },
    },
  },
  task: { kind: 'reverseDigits' as const, digits: 2 },
  rollout: { promptsPerStep: 2, n: 4, maxNewTokens: 8 },
  algorithm: {
    kl: { placement: 'reward' as const, estimator: 'k1' as const, coef: BETA },
    miniBatchSize: 8,
    microBatchSize: 8,
    optimizer: { lr: 1e-2 },
  },
  store: { url: dir },
  orchestration: { rolloutRecords: true },
};

/** The sampled responses with a tool turn spliced in: positions 1..2 become inserted text (logprob 0). */
function withToolTurn(records: RolloutRecord[], toolLogprob: number): RolloutRecord[] {
  return records.map((r) => {
    if (r.tokens.length < 4) return r;
    const sampled = r.sampled.map((s, t) => (t === 1 || t === 2 ? false : s));
    const logprobs = r.logprobs.map((lp, t) => (sampled[t] ? lp : toolLogprob));
    return { ...r, sampled, logprobs };
  });
}

async function score(
  records: RolloutRecord[],
  name: string,
  runConfig: typeof config = config,
): Promise<ScoreRolloutsOutput> {
  const store = openStore(dir);
  const key = rolloutKey(config.runId, 1, name);
  await store.put(key, new TextEncoder().encode(JSON.stringify(records)));
  const env = new MockActivityEnvironment();
  return (await env.run(scoreRollouts, {
    config: runConfig,
    step: 1,
    shardKeys: [key],
  })) as ScoreRolloutsOutput;
}

it('leaves tool output out of the KL penalty and the KL metric, as verl does with response_mask', async () => {
  const env = new MockActivityEnvironment();
  const plan = (await env.run(prepareRun, config)) as RunPlan;
  const shard = (await env.run(sampleRollouts, {
    config,
    step: 1,
    shard: 0,
    cursor: plan.cursor,
  })) as SampleRolloutsOutput;
  const store = openStore(dir);
  const sampled = JSON.parse(new TextDecoder().decode(await store.get(shard.key))) as RolloutRecord[];
  const records = withToolTurn(sampled, 0);
  const tools = records.filter((r) => r.sampled.includes(false)).length;
  assert.ok(tools >= 2, `the random policy wrote ${tools} responses long enough for a tool turn`);

  const scored = await score(records, 'tool-shard.json');
  // The readable records of the step: the text, the tool turn's output, rewards and the loss flag.
  const views = (await readStepRecords(store, config.runId, 1))!.responses;
  const byKey = new Map(records.map((r) => [`${r.prompt}/${r.sample}`, r]));
  assert.equal(views.length, records.length);
  for (const v of views) {
    const r = byKey.get(`${v.group}/${v.sample}`)!;
    const spans = v.segments.map((s) => s.text);
    assert.deepEqual(
      spans,
      r.sampled.includes(false)
        ? [r.tokens.slice(0, 1), r.tokens.slice(1, 3), r.tokens.slice(3)]
            .filter((t) => t.length > 0)
            .map((t) => t.join(' '))
        : [r.tokens.join(' ')],
      'reverseDigits text is its token ids, the tool turn a segment of its own',
    );
    assert.deepEqual(
      v.segments.map((s) => s.inserted === true),
      spans.map((_, k) => r.sampled.includes(false) && k === 1),
    );
    assert.equal(v.tokens, r.tokens.length);
    assert.equal(v.sampledTokens, r.sampled.filter(Boolean).length);
    assert.deepEqual(
      v.toolCalls.map((c) => c.output),
      r.sampled.includes(false) ? [r.tokens.slice(1, 3).join(' ')] : [],
    );
    assert.equal(v.inLoss, true);
  }
  const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(meanOf(views.map((v) => v.reward)) - scored.meanReward) < 1e-12);
  assert.ok(Math.abs(meanOf(views.map((v) => v.taskReward)) - scored.meanTaskReward) < 1e-12);
  assert.ok(views.some((v) => v.toolCalls.length === 1));
  for (const v of views) {
    const sum = Object.values(v.rewardParts).reduce((a, b) => a + b, 0);
    assert.ok(
      Math.abs(sum - v.reward) < 1e-12,
      `reward parts ${JSON.stringify(v.rewardParts)} sum to ${v.reward}`,
    );
  }
  // The inserted tokens' logprobs are not the policy's: whatever they hold must not move the result.
  const other = await score(withToolTurn(sampled, -3.25), 'tool-shard-other.json');
  assert.equal(other.meanReward, scored.meanReward);
  assert.equal(other.klToReference, scored.klToReference);

  // verl's formula on the same tokens, with the reference log-probs of the step-0 weights.
  const scorer = await ResponseScorer.create(await modelConfig(parseRunConfig(config)), {
    intraOpThreads: 1,
  });
  const sorted = [...records].sort((a, b) => a.prompt - b.prompt || a.sample - b.sample);
  const ref = await scorer.logProbs(
    await readCheckpointWeights(store, config.runId, 0),
    sorted.map((r) => ({ promptIds: r.promptIds, responseIds: r.tokens })),
    1,
  );
  let kldSum = 0;
  let maskSum = 0;
  let penalty = 0;
  sorted.forEach((r, i) => {
    let seq = 0;
    r.tokens.forEach((_, t) => {
      const mask = r.sampled[t] ? 1 : 0;
      const kld = (r.logprobs[t] - ref[i][t]) * mask;
      seq += kld;
      maskSum += mask;
    });
    kldSum += seq;
    penalty += BETA * seq;
  });
  const tolerance = 1e-12;
  assert.ok(
    Math.abs(scored.klToReference - kldSum / maskSum) < tolerance,
    `klToReference ${scored.klToReference} vs verl ${kldSum / maskSum}`,
  );
  const expectedReward = scored.meanTaskReward - penalty / sorted.length;
  assert.ok(
    Math.abs(scored.meanReward - expectedReward) < tolerance,
    `meanReward ${scored.meanReward} vs verl ${expectedReward}`,
  );

  // REINFORCE++ on the same batch: per-token return-to-go of the KL-shaped rewards, whitened.
  const rpp = {
    ...config,
    algorithm: { ...config.algorithm, advantage: { estimator: 'reinforcePlusPlus' as const } },
  } as typeof config;
  const rppScored = await score(records, 'tool-shard-rpp.json', rpp);
  const rows = JSON.parse(new TextDecoder().decode(await store.get(rppScored.key))) as RolloutRow[];
  const masks = sorted.map((r) => r.sampled.map(Number));
  const outcome = sorted.map((r) =>
    reverseDigitsReward(
      { kind: 'reverseDigits', digits: 2, separatorToken: 10, eosToken: 11 },
      r.problem,
      r.tokens,
    ),
  );
  close(outcome.reduce((a, b) => a + b, 0) / outcome.length, scored.meanTaskReward, 'task rewards');
  const expected = reinforcePlusPlusTokenAdvantages(
    sorted.map((r, i) =>
      r.tokens.map(
        (_, t) =>
          -BETA * (r.logprobs[t] - ref[i][t]) * masks[i][t] +
          (t === r.sampled.lastIndexOf(true) ? outcome[i] : 0),
      ),
    ),
    masks,
    1,
  );
  rows.forEach((row, i) =>
    row.advantages.forEach((a, t) =>
      assert.ok(Math.abs(a - expected[i][t]) < 1e-9, `advantage [${i}][${t}] ${a} vs ${expected[i][t]}`),
    ),
  );
  const varies = rows.some((row) => new Set(row.advantages.filter((_, t) => row.sampled[t])).size > 1);
  assert.ok(varies, 'the advantage differs between tokens of a response');
});
