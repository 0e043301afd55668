/**
 * The two run configs bench:orchestration times: the integration tests' tiny model (milliseconds of compute
 * per activity, so the overhead shows plainly) and the demo's model with the
 * 2-digit recipe's step (demo/recipe.ts: the demo's step before it moved to long addition).
 */
import type { RunConfigInput } from '../../core/config/run.ts';
import { DEFAULT_RECIPE, DEMO_MODEL, recipeConfigs } from '../../demo/recipe.ts';

/** The run length. */
export const BENCH_STEPS = 10;

export interface Workload {
  name: 'tiny' | 'demo' | 'demo-fused';
  describe: string;
  config(runId: string, storeUrl: string, queues: BenchQueues): RunConfigInput;
}

export interface BenchQueues {
  rollout: string;
  cpu: string;
  trainer: string;
}

/** test/integration/orchestration/harness.ts's tinyRunConfig: 2 layers, 64 wide, 2 rollout shards. */
export const TINY: Workload = {
  name: 'tiny',
  describe: 'tests’ tiny model (2 layers × 64, reverseDigits, 8 prompts × 4, 3 new tokens, 2 shards)',
  config: (runId, storeUrl, queues) => ({
    runId,
    seed: 7,
    steps: BENCH_STEPS,
    model: {
      init: {
        seed: 0,
        config: {
          vocabSize: 12,
          hiddenSize: 64,
          intermediateSize: 128,
          numHiddenLayers: 2,
          numAttentionHeads: 4,
          numKeyValueHeads: 2,
          maxPositionEmbeddings: 32,
          eosTokenId: [11],
        },
      },
    },
    task: { kind: 'reverseDigits', digits: 2 },
    rollout: { promptsPerStep: 8, n: 4, maxNewTokens: 3, shards: 2 },
    algorithm: { miniBatchSize: 16, microBatchSize: 16, optimizer: { lr: 1e-3 } },
    store: { url: storeUrl, retention: { keepLastOptimizerStates: 2, keepWeightsEvery: 2 } },
    orchestration: { taskQueues: { ...queues } },
  }),
};

/**
 * The 2-digit recipe's GRPO stage (demo/recipe.ts: 32 prompts × 8, 40 new tokens, the STILL-3 1.5B
 * settings, 2 intra-op threads) on the demo's model (3 layers × 128) — from its random init rather than the
 * SFT checkpoint, so the bench needs no SFT run; random weights write every response to the length limit,
 * the recipe's longest step.
 */
export const DEMO: Workload = {
  name: 'demo',
  describe: 'demo’s model (3 layers × 128, 2-digit addition, 32 prompts × 8, 40 new tokens)',
  config: (runId, storeUrl, queues) => {
    const { rl } = recipeConfigs({
      ...DEFAULT_RECIPE,
      prefix: runId,
      storeUrl,
      rlSteps: BENCH_STEPS,
    });
    return {
      ...rl,
      runId,
      model: DEMO_MODEL,
      orchestration: { ...rl.orchestration, taskQueues: { ...queues } },
    };
  },
};

/**
 * The demo's run with orchestration.fusedStep: reference log-probs, scoring, update and checkpoint of a
 * step as one trainer activity, so a step makes two server round trips (sampling, then that) instead of
 * five. The same numbers as DEMO (test/integration/orchestration/fusedStep.test.ts).
 */
export const DEMO_FUSED: Workload = {
  name: 'demo-fused',
  describe: 'the same with orchestration.fusedStep (a step after sampling in one trainer activity)',
  config: (runId, storeUrl, queues) => {
    const config = DEMO.config(runId, storeUrl, queues);
    return { ...config, orchestration: { ...config.orchestration, fusedStep: true } };
  },
};
