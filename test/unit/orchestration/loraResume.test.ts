// A LoRA run through rlTraining's activities: checkpoints hold the PEFT adapter directory, a reference to
// the base model and the adapters' AdamW moments (no weights/), sampling adds the adapters to the base in the graph, and a
// trainer that lost its warm state resumes from the checkpoint to bit-identical adapters and moments.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { checkpoint } from '../../../activities/checkpoint.ts';
import { prepareRun } from '../../../activities/prepareRun.ts';
import { sampleRollouts } from '../../../activities/sampleRollouts.ts';
import { scoreRollouts } from '../../../activities/scoreRollouts.ts';
import { readCheckpointWeights, initialModel } from '../../../activities/runtime.ts';
import type {
  RunPlan,
  SampleRolloutsOutput,
  ScoreRolloutsOutput,
  UpdatePolicyOutput,
} from '../../../activities/types.ts';
import { dropWarmTrainerState, updatePolicy } from '../../../activities/updatePolicy.ts';
import { openStore } from '../../../core/store/index.ts';
import { parseRunConfig } from '../../../core/config/run.ts';

const store = mkdtempSync(join(tmpdir(), 'lora-resume-'));
after(() => rmSync(store, { recursive: true, force: true }));

const configOf = (runId: string, halfBase = false) => ({
  runId,
  seed: 3,
  steps: 2,
  model: {
    init: {
      seed: 0,
      config: {
        vocabSize: 12,
        hiddenSize: 16,
        intermediateSize: 32,
        numHiddenLayers: 2,
        numAttentionHeads: 2,
        maxPositionEmbeddings: 16,
        eosTokenId: [11],
      },
    },
  },
  task: { kind: 'reverseDigits' as const, digits: 2 },
  rollout: { promptsPerStep: 4, n: 4, maxNewTokens: 3 },
  algorithm: {
    miniBatchSize: 8,
    microBatchSize: 4,
    optimizer: { lr: 5e-2 },
    lora: {
      rank: 2,
      alpha: 4,
      targetModules: ['q_proj', 'v_proj', 'down_proj'],
      ...(halfBase ? { baseDtype: 'float16' as const } : {}),
    },
    ...(halfBase ? { gradientCheckpointing: true } : {}),
  },
  store: { url: store },
});

/** Steps 1 and 2; `dropBeforeStep2` forgets the warm trainer state so step 2 reloads step 1's checkpoint. */
async function run(
  runId: string,
  dropBeforeStep2: boolean,
  halfBase = false,
  algorithm: Record<string, unknown> = {},
): Promise<UpdatePolicyOutput[]> {
  const plain = configOf(runId, halfBase);
  const config = { ...plain, algorithm: { ...plain.algorithm, ...algorithm } };
  const env = new MockActivityEnvironment();
  const plan = (await env.run(prepareRun, config)) as RunPlan;
  let cursor = plan.cursor;
  const updates: UpdatePolicyOutput[] = [];
  for (let step = 1; step <= 2; step++) {
    if (step === 2 && dropBeforeStep2) dropWarmTrainerState();
    const shard = (await env.run(sampleRollouts, { config, step, shard: 0, cursor })) as SampleRolloutsOutput;
    const scored = (await env.run(scoreRollouts, {
      config,
      step,
      shardKeys: [shard.key],
    })) as ScoreRolloutsOutput;
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
      metrics: {},
    });
    updates.push(update);
    cursor = shard.nextCursor;
  }
  return updates;
}

it('checkpoints adapters only and resumes them bit for bit', async () => {
  const warm = await run('lora-warm', false);
  const cold = await run('lora-cold', true);
  assert.equal(warm[1].reloaded, false);
  assert.equal(cold[1].reloaded, true, 'step 2 of the second run reloaded step 1 from its checkpoint');
  assert.deepEqual(
    warm[1].objects.map((o) => o.name),
    [
      'adapter/adapter_config.json',
      'adapter/adapter_model.safetensors',
      'adapter/base_model.json',
      'optimizer/state.safetensors',
    ],
  );
  for (const step of [0, 1]) {
    for (const o of warm[step].objects) {
      const same = cold[step].objects.find((c) => c.name === o.name)!;
      assert.equal(same.sha256, o.sha256, `step ${step + 1} ${o.name}`);
    }
  }
  const base = (await initialModel(parseRunConfig(configOf('lora-warm')))).weights;
  const policy = await readCheckpointWeights(openStore(store), 'lora-warm', 2);
  const changed = [...base.keys()].filter((k) => base.get(k)!.some((x, i) => x !== policy.get(k)![i]));
  assert.deepEqual(
    changed.sort(),
    [0, 1]
      .flatMap((i) => [
        `model.layers.${i}.mlp.down_proj.weight`,
        `model.layers.${i}.self_attn.q_proj.weight`,
        `model.layers.${i}.self_attn.v_proj.weight`,
      ])
      .sort(),
    'the sampled policy is the base with exactly the adapted matrices merged',
  );
});

it('with a float16 base (lora.baseDtype) the adapters train and resume bit for bit too', async () => {
  const warm = await run('lora-half-warm', false, true);
  const cold = await run('lora-half-cold', true, true);
  assert.equal(cold[1].reloaded, true);
  for (const step of [0, 1])
    for (const o of warm[step].objects) {
      const same = cold[step].objects.find((c) => c.name === o.name)!;
      assert.equal(same.sha256, o.sha256, `step ${step + 1} ${o.name}`);
    }
  // The float32 run's adapters differ: its base is not rounded to half.
  const float32 = await run('lora-float32', false);
  const adapters = (u: UpdatePolicyOutput[]) =>
    u[1].objects.find((o) => o.name.endsWith('.safetensors'))!.sha256;
  assert.notEqual(adapters(warm), adapters(float32));
});

it('with a float16 base the reference and recomputed old log-probs are the trainer’s own: KL 0 and ratio 1 at step 1', async () => {
  // One optimizer step per RL step, so step 1's metrics are those of the policy the scores came from.
  const algorithm = { miniBatchSize: 16, kl: { placement: 'loss', coef: 0.1 }, recomputeOldLogprobs: true };
  const [step1] = await run('lora-half-kl', false, true, algorithm);
  assert.equal(step1.metrics.klLoss, 0, 'the step-0 reference is the rounded base the trainer starts from');
  assert.equal(step1.metrics.approxKl, 0, 'old log-probs recomputed on the trainer’s own policy');
  assert.equal(step1.metrics.clipFracHigh, 0);
});
