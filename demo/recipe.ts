/**
 * The 2-digit recipe as configs: a tiny Qwen2 with a byte-level tokenizer, fine-tuned on worked solutions
 * of 2-digit addition from a careless teacher (SFT), then trained with GRPO using the STILL-3 1.5B recipe's settings at CPU scale
 * (+1/−1/−2 reward, k1 KL in the reward at 0.001, PPO-clip 0.2, seq-mean-token-mean, two optimizer steps
 * per rollout batch, temperature 1.0, n = 8), and evaluated on held-out problems before and after each
 * stage. Every stage is an ordinary workflow config: the same JSON `temporal workflow start` takes.
 *
 * It was the demo's until the demo moved to long addition (demo/configs.ts, which derives from it); the
 * factor study's arms, bench:orchestration's "demo" size and examples/ still start from it, and their
 * measured figures are of it.
 */
import type { EvaluationConfigInput } from '../core/config/evaluation.ts';
import type { RunConfigInput } from '../core/config/run.ts';
import type { SftConfigInput } from '../core/config/sft.ts';
import { TINY_SPECIAL_TOKENS, TINY_BYTE_TOKENS, TINY_VOCAB_SIZE } from '../core/model/tinyTokenizer.ts';

/** `<|im_end|>`: the tiny tokenizer's eos_token, where every response stops. */
const IM_END_ID = TINY_BYTE_TOKENS + TINY_SPECIAL_TOKENS.indexOf('<|im_end|>');

export interface RecipeOptions {
  /** Prefix of every run and evaluation id (one pipeline per prefix and store). */
  prefix: string;
  storeUrl: string;
  /** Worker threads per ORT session. */
  threads: number;
  sftSteps: number;
  rlSteps: number;
  heldOutProblems: number;
  /** Responses per held-out problem for the sampled (T = 0.6) evaluation. */
  evalSamples: number;
}

export const DEFAULT_RECIPE: Omit<RecipeOptions, 'prefix' | 'storeUrl'> = {
  threads: 2,
  sftSteps: 300,
  rlSteps: 60,
  heldOutProblems: 200,
  evalSamples: 4,
};

/** Longest response: the worked solution of a 2-digit sum is ≈ 27 tokens. */
const MAX_NEW_TOKENS = 40;

export const DEMO_MODEL = {
  init: {
    seed: 0,
    tokenizer: 'tinyBytes' as const,
    config: {
      vocabSize: TINY_VOCAB_SIZE,
      hiddenSize: 128,
      intermediateSize: 352,
      numHiddenLayers: 3,
      numAttentionHeads: 4,
      numKeyValueHeads: 2,
      maxPositionEmbeddings: 64,
      eosTokenId: [IM_END_ID],
    },
  },
};

const DATA = {
  source: 'synthetic' as const,
  task: { kind: 'arithmetic' as const, knobs: { digits: 2, terms: 2, ops: ['+' as const] } },
  size: 4000,
  seed: 1,
};

const TASK = {
  kind: 'math' as const,
  data: DATA,
  prompt: { template: 'plain' as const },
  reward: { kind: 'still15b' as const },
};

export interface StageConfigs {
  sft: SftConfigInput;
  rl: RunConfigInput;
  evals: { name: string; stage: 'base' | 'sft' | 'rl'; config: EvaluationConfigInput }[];
}

export function recipeConfigs(o: RecipeOptions): StageConfigs {
  const store = { url: o.storeUrl };
  const orchestration = { intraOpThreads: o.threads };
  const sftRun = `${o.prefix}-sft`;
  const rlRun = `${o.prefix}-grpo`;
  const sft: SftConfigInput = {
    runId: sftRun,
    seed: 1,
    steps: o.sftSteps,
    model: DEMO_MODEL,
    task: TASK,
    sft: {
      batchSize: 32,
      checkpointEvery: 25,
      // The teacher forgets the carry on 55% of its worked solutions: the SFT model learns both habits,
      // and only a reward that checks the answer can tell it which one is right (what the GRPO stage does).
      traceErrorRate: 0.55,
      // A model trained from scratch takes a far larger step than fine-tuning a pretrained one.
      optimizer: {
        lr: 3e-3,
        schedule: 'warmupCosine',
        warmupSteps: Math.min(10, o.sftSteps - 1),
        weightDecay: 0,
      },
    },
    store,
    orchestration,
  };
  const promptsPerStep = 32;
  const n = 8;
  const rl: RunConfigInput = {
    runId: rlRun,
    seed: 2,
    steps: o.rlSteps,
    model: { checkpoint: { runId: sftRun, step: o.sftSteps } },
    task: TASK,
    rollout: { promptsPerStep, n, maxNewTokens: MAX_NEW_TOKENS, temperature: 1.0 },
    algorithm: {
      advantage: { estimator: 'grpo' },
      kl: { placement: 'reward', estimator: 'k1', coef: 0.001 },
      clip: { low: 0.2, high: 0.2 },
      lossAgg: 'seq-mean-token-mean',
      // Two optimizer steps per rollout batch, as the 1.5B run (128 prompts × 8 over 2 steps).
      miniBatchSize: (promptsPerStep * n) / 2,
      microBatchSize: (promptsPerStep * n) / 2,
      optimizer: { lr: 1e-4 },
    },
    store,
    orchestration,
  };
  const heldOut = { ...TASK, data: { ...DATA, split: 'heldOut' as const, heldOutSize: o.heldOutProblems } };
  const evalOf = (stage: 'base' | 'sft' | 'rl', model: EvaluationConfigInput['model']) => [
    {
      name: `${stage}-greedy`,
      stage,
      config: {
        evalId: `${o.prefix}-${stage}-greedy`,
        model,
        task: heldOut,
        sampling: { temperature: 0, maxNewTokens: MAX_NEW_TOKENS },
        store,
        orchestration: { intraOpThreads: o.threads },
      },
    },
    {
      name: `${stage}-sampled`,
      stage,
      config: {
        evalId: `${o.prefix}-${stage}-sampled`,
        seed: 3,
        model,
        task: heldOut,
        // The paper's sampled evaluation: T = 0.6, top-p 0.95, pass@1 averaged over the samples.
        sampling: { temperature: 0.6, topP: 0.95, samples: o.evalSamples, maxNewTokens: MAX_NEW_TOKENS },
        store,
        orchestration: { intraOpThreads: o.threads },
      },
    },
  ];
  return {
    sft,
    rl,
    evals: [
      ...evalOf('base', { checkpoint: { runId: sftRun, step: 0 } }),
      ...evalOf('sft', { checkpoint: { runId: sftRun, step: o.sftSteps } }),
      ...evalOf('rl', { checkpoint: { runId: rlRun, step: o.rlSteps } }),
    ],
  };
}
