// reinforceBaseline in rlTraining's activities: the running baseline after each step is recorded in the
// step's checkpoint and the next step's advantages are measured against it (r − b), so a resumed run —
// which only has the checkpoints — continues the same baseline.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { checkpoint } from '../../../activities/checkpoint.ts';
import { prepareRun } from '../../../activities/prepareRun.ts';
import { sampleRollouts } from '../../../activities/sampleRollouts.ts';
import { baselineAfter, scoreRollouts } from '../../../activities/scoreRollouts.ts';
import type {
  RunPlan,
  SampleRolloutsOutput,
  ScoreRolloutsOutput,
  UpdatePolicyOutput,
} from '../../../activities/types.ts';
import { updatePolicy } from '../../../activities/updatePolicy.ts';
import { reverseDigitsReward } from '../../../core/task/reverseDigits.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';
import { openStore, verifyCheckpoint } from '../../../core/store/index.ts';
import { TINY_DIGITS_QWEN2 } from './configFixtures.ts';

const store = mkdtempSync(join(tmpdir(), 'running-baseline-'));
after(() => rmSync(store, { recursive: true, force: true }));

const DECAY = 0.5;
const config = {
  runId: 'baseline',
  seed: 3,
  steps: 2,
  model: {
    init: {
      seed: 0,
      config: TINY_DIGITS_QWEN2,
    },
  },
  task: { kind: 'reverseDigits' as const, digits: 2 },
  rollout: { promptsPerStep: 4, n: 4, maxNewTokens: 3 },
  algorithm: {
    advantage: { estimator: 'reinforceBaseline' as const, baselineDecay: DECAY },
    miniBatchSize: 16,
    microBatchSize: 16,
    optimizer: { lr: 1e-2 },
  },
  store: { url: store },
};

it('records the baseline in each checkpoint and measures the next step against it', async () => {
  const env = new MockActivityEnvironment();
  const plan = (await env.run(prepareRun, config)) as RunPlan;
  let cursor = plan.cursor;
  const baselines: { value: number; count: number }[] = [];
  for (let step = 1; step <= 2; step++) {
    const shard = (await env.run(sampleRollouts, { config, step, shard: 0, cursor })) as SampleRolloutsOutput;
    const scored = (await env.run(scoreRollouts, {
      config,
      step,
      shardKeys: [shard.key],
    })) as ScoreRolloutsOutput;
    assert.ok(scored.baseline, 'reinforceBaseline returns the new baseline');
    const rows = JSON.parse(new TextDecoder().decode(await openStore(store).get(scored.key))) as RolloutRow[];
    const records = JSON.parse(new TextDecoder().decode(await openStore(store).get(shard.key))) as {
      problem: number;
      tokens: number[];
    }[];
    const rewards = records.map((r) =>
      reverseDigitsReward(
        { kind: 'reverseDigits', digits: 2, separatorToken: 10, eosToken: 11 },
        r.problem,
        r.tokens,
      ),
    );
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    // KL is in the reward by default (β = 0.001): the advantage is (r − β·KL) − b, so compare loosely.
    const b = step === 1 ? 0 : baselines[0].value;
    rows.forEach((row, i) =>
      assert.ok(Math.abs(row.advantages[0] - (rewards[i] - b)) < 0.01, `step ${step} row ${i}`),
    );
    if (step === 1)
      assert.ok(Math.abs(scored.baseline!.value - scored.meanReward) < 1e-12, 'the first batch sets b');
    else assert.ok(Math.abs(scored.baseline!.value - (DECAY * b + (1 - DECAY) * scored.meanReward)) < 1e-12);
    assert.ok(Math.abs(scored.meanTaskReward - mean) < 1e-12);
    baselines.push(scored.baseline!);
    const update = (await env.run(updatePolicy, {
      config,
      configHash: plan.configHash,
      step,
      scoredKey: scored.key,
    })) as UpdatePolicyOutput;
    await env.run(checkpoint, {
      config,
      step,
      objects: update.objects,
      cursor: shard.nextCursor,
      metrics: { baselineValue: scored.baseline!.value, baselineCount: scored.baseline!.count },
    });
    cursor = shard.nextCursor;
    const saved = await verifyCheckpoint(openStore(store), 'baseline', step);
    assert.ok('manifest' in saved);
    assert.deepEqual(
      baselineAfter(saved.manifest.metrics),
      scored.baseline,
      'the checkpoint carries the baseline',
    );
  }
  assert.equal(baselines[1].count, 32);
});
