// A run config is parsed once per worker process, not per activity call: prepareRun parses it, and every
// later step's sampleRollouts, scoreRollouts, updatePolicy and checkpoint get the parsed config back from
// the process's cache. A step with hyper-parameter overrides written in (by the workflow, the one place
// they are applied) is a config of its own: parsed once, shared by that step's activities.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { checkpoint } from '../../../activities/checkpoint.ts';
import { configParses } from '../../../activities/parsedConfig.ts';
import { prepareRun } from '../../../activities/prepareRun.ts';
import { sampleRollouts } from '../../../activities/sampleRollouts.ts';
import { scoreRollouts } from '../../../activities/scoreRollouts.ts';
import type {
  RawRunConfig,
  RunPlan,
  SampleRolloutsOutput,
  ScoreRolloutsOutput,
  UpdatePolicyOutput,
} from '../../../activities/types.ts';
import { updatePolicy } from '../../../activities/updatePolicy.ts';
import { withHyperParameters } from '../../../core/config/hyperParameters.ts';
import { TINY_DIGITS_QWEN2 } from './configFixtures.ts';

const store = mkdtempSync(join(tmpdir(), 'parse-once-'));
after(() => rmSync(store, { recursive: true, force: true }));

const config: RawRunConfig = {
  runId: 'parse-once',
  seed: 5,
  steps: 3,
  model: {
    init: {
      seed: 0,
      config: TINY_DIGITS_QWEN2,
    },
  },
  task: { kind: 'reverseDigits', digits: 2 },
  rollout: { promptsPerStep: 2, n: 4, maxNewTokens: 3 },
  algorithm: { miniBatchSize: 8, microBatchSize: 8, optimizer: { lr: 1e-2 } },
  store: { url: store },
};

it('parses the run config once per process across prepareRun and every step, and each override once', async () => {
  const env = new MockActivityEnvironment();
  const before = configParses();
  const plan = (await env.run(prepareRun, config)) as RunPlan;
  assert.equal(configParses() - before, 1, 'prepareRun parses the config');

  let cursor = plan.cursor;
  const step = async (n: number, stepConfig: RawRunConfig) => {
    const shard = (await env.run(sampleRollouts, {
      config: stepConfig,
      step: n,
      shard: 0,
      cursor,
    })) as SampleRolloutsOutput;
    const scored = (await env.run(scoreRollouts, {
      config: stepConfig,
      step: n,
      shardKeys: [shard.key],
    })) as ScoreRolloutsOutput;
    const update = (await env.run(updatePolicy, {
      config: stepConfig,
      configHash: plan.configHash,
      step: n,
      scoredKey: scored.key,
    })) as UpdatePolicyOutput;
    await env.run(checkpoint, {
      config,
      step: n,
      objects: update.objects,
      cursor: shard.nextCursor,
      metrics: update.metrics,
    });
    cursor = shard.nextCursor;
    return update;
  };

  await step(1, config);
  const second = await step(2, config);
  assert.equal(second.reloaded, false, 'the warm state is keyed by the run hash');
  assert.equal(configParses() - before, 1, 'two steps of four activities parse nothing more');

  // A key order the workflow never sends still hits: the cache is keyed by the content.
  const reordered = Object.fromEntries(Object.entries(config).reverse()) as RawRunConfig;
  const third = await step(3, withHyperParameters(reordered, { lr: 5e-3 }));
  assert.equal(third.metrics.lr, 5e-3, 'the override reaches the update');
  assert.equal(third.reloaded, false, 'overrides leave the run identity alone');
  assert.equal(configParses() - before, 2, "the step's config with its override is parsed once");
});
