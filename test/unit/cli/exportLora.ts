/**
 * A trained toy LoRA run for the export tests: a tiny model directory as the base, one RL step through the
 * activities (sample, score, update with adapters only, checkpoint), so checkpoint 1 holds trained
 * adapters (B ≠ 0) and a reference to the base.
 */
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { checkpoint } from '../../../activities/checkpoint.ts';
import { prepareRun } from '../../../activities/prepareRun.ts';
import { sampleRollouts } from '../../../activities/sampleRollouts.ts';
import { scoreRollouts } from '../../../activities/scoreRollouts.ts';
import type {
  RunPlan,
  SampleRolloutsOutput,
  ScoreRolloutsOutput,
  UpdatePolicyOutput,
} from '../../../activities/types.ts';
import { updatePolicy } from '../../../activities/updatePolicy.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { writeModelDir } from '../../../core/model/modelDir.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';

export const toyConfig = makeQwen2Config({
  vocabSize: 12,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
  maxPositionEmbeddings: 32,
  tieWordEmbeddings: true,
  eosTokenId: [11],
});

export const toyLora = { rank: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'o_proj', 'down_proj'] };

/** Writes the base under `root/base` and trains step 1 of run `runId` in the store `root/store`. */
export async function trainToyLoraRun(root: string, runId: string): Promise<{ base: string; store: string }> {
  const base = join(root, 'base');
  const store = join(root, 'store');
  writeModelDir(base, { config: toyConfig, weights: initQwen2Weights(toyConfig, 4) });
  const config = {
    runId,
    seed: 3,
    steps: 1,
    model: { dir: base },
    task: { kind: 'reverseDigits' as const, digits: 2 },
    rollout: { promptsPerStep: 4, n: 4, maxNewTokens: 3 },
    algorithm: { miniBatchSize: 8, microBatchSize: 8, optimizer: { lr: 5e-2 }, lora: toyLora },
    store: { url: store },
  };
  const env = new MockActivityEnvironment();
  const plan = (await env.run(prepareRun, config)) as RunPlan;
  const shard = (await env.run(sampleRollouts, {
    config,
    step: 1,
    shard: 0,
    cursor: plan.cursor,
  })) as SampleRolloutsOutput;
  const scored = (await env.run(scoreRollouts, {
    config,
    step: 1,
    shardKeys: [shard.key],
  })) as ScoreRolloutsOutput;
  const update = (await env.run(updatePolicy, {
    config,
    configHash: plan.configHash,
    step: 1,
    scoredKey: scored.key,
  })) as UpdatePolicyOutput;
  await env.run(checkpoint, {
    config,
    step: 1,
    objects: update.objects,
    cursor: shard.nextCursor,
    metrics: {},
  });
  return { base, store };
}
