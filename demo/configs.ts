/**
 * The demo's configs: the 2-digit recipe (demo/recipe.ts: the same tiny Qwen2, SFT optimizer and STILL-3
 * GRPO recipe) on the long-addition task, where the habit teacher's traces answer directly, work the
 * columns or check them (core/data/habitTraces.ts), so response length is the policy's to choose. Only
 * what the task needs changes: the data and teacher, room for the longer responses, and a held-out
 * evaluation every few GRPO steps (sampled as the paper evaluates) to follow accuracy and length over the
 * run. `npm run length-task` runs the same configs over several seeds.
 */
import type { EvaluationConfigInput } from '../core/config/evaluation.ts';
import type { RunConfigInput } from '../core/config/run.ts';
import type { SftConfigInput } from '../core/config/sft.ts';
import { DEFAULT_HABIT_RATES, type HabitRates } from '../core/data/habitTraces.ts';
import {
  DEFAULT_RECIPE,
  DEMO_MODEL,
  recipeConfigs,
  type RecipeOptions,
  type StageConfigs,
} from './recipe.ts';

export interface DemoOptions extends RecipeOptions {
  /** Digits of each operand of the sums. */
  digits: number;
  /** GRPO steps between held-out evaluations. */
  evalEvery: number;
  /**
   * Added to every seed of the run (model init, SFT and its teacher's draws, GRPO, evaluation sampling):
   * 0 is the demo's run; others are the independent repeats an interval needs (`npm run length-task
   * -- --seeds N`). The problems (training and held-out) stay the same.
   */
  seed: number;
  /** The habit teacher's rates. */
  habits: HabitRates;
}

/**
 * A teacher whose direct answers never carry (docs/study.md, "G"): every problem has a carry, so a direct
 * trace is always wrong, a worked one usually right and a checked one always. At its natural rates (half
 * the direct answers right) GRPO taught the tiny model the direct answer itself and the lengthening faded
 * (study row E); here only the longer habits pay.
 */
export const DEMO_HABITS: HabitRates = { ...DEFAULT_HABIT_RATES, directErrorRate: 1 };

/**
 * 2-digit sums: at the 3-layer model's size, 800 SFT steps on 3-digit traces learned the format but not the
 * columns (study row F). 800 SFT steps, not the recipe's 300: the teacher works the columns in 70% of its
 * traces; at 300 steps the model's columns were no better than its direct answers, and at 500 one teacher
 * mix learned them (0.84) and another did not (0.30).
 */
export const DEFAULT_DEMO: Omit<DemoOptions, 'prefix' | 'storeUrl'> = {
  ...DEFAULT_RECIPE,
  digits: 2,
  sftSteps: 800,
  rlSteps: 20,
  evalEvery: 5,
  evalSamples: 2,
  seed: 0,
  habits: DEMO_HABITS,
};

/**
 * Longest response: a checked 2-digit sum with every carry is 71 tokens (two passes of columns, the
 * reflection words and restated operands, the boxed answer); each digit more adds ≤ 20.
 */
export function demoMaxNewTokens(digits: number): number {
  return 24 * digits + 32;
}

/** Prompt ("Compute $a + b$.\n": 2 × digits + 15 tokens) and the longest response. */
function positionsFor(digits: number): number {
  return 2 * digits + 16 + demoMaxNewTokens(digits);
}

export function demoData(digits: number) {
  return {
    source: 'synthetic' as const,
    // At least one carry into a next column: a direct answer has to carry in its head to be right.
    task: { kind: 'longAddition' as const, knobs: { digits, minCarries: 1 } },
    size: 4000,
    seed: 1,
  };
}

export interface DemoConfigs extends StageConfigs {
  /**
   * The GRPO steps whose checkpoints the run itself evaluates (child workflows `<run>-eval-<step>`,
   * sampled as `sft-sampled`): with the SFT model at step 0, the held-out curve.
   */
  curveSteps: number[];
}

/** Multiples of `every` up to `steps`. */
export function evaluatedSteps(steps: number, every: number): number[] {
  return Array.from({ length: Math.floor(steps / every) }, (_, i) => (i + 1) * every);
}

/**
 * SFT, GRPO with its periodic held-out evaluations, and the evaluations around them: greedy for the random,
 * SFT and GRPO models; sampled for the SFT model (the curve's step 0) and for the GRPO model only when the
 * last step is not one the run evaluates anyway. The random model is not sampled: it writes every response
 * to the length limit, which costs the most and tells nothing the greedy row does not.
 */
export function demoConfigs(o: DemoOptions): DemoConfigs {
  const recipe = recipeConfigs(o);
  const maxNewTokens = demoMaxNewTokens(o.digits);
  const data = demoData(o.digits);
  const task = { ...recipe.sft.task, data };
  const init = DEMO_MODEL.init;
  const model = {
    init: {
      ...init,
      seed: init.seed + o.seed,
      config: { ...init.config, maxPositionEmbeddings: positionsFor(o.digits) },
    },
  };
  // The habit teacher replaces the careless one (traceErrorRate has no say on this task).
  const { traceErrorRate: _careless, ...sftSection } = recipe.sft.sft ?? {};
  const sft: SftConfigInput = {
    ...recipe.sft,
    seed: recipe.sft.seed + o.seed,
    model,
    task,
    sft: { ...sftSection, habits: o.habits },
  };
  const heldOut = { ...task, data: { ...data, split: 'heldOut' as const, heldOutSize: o.heldOutProblems } };
  // The paper's sampled evaluation: T = 0.6, top-p 0.95, pass@1 averaged over the samples.
  const sampling = { temperature: 0.6, topP: 0.95, samples: o.evalSamples, maxNewTokens };
  const rl: RunConfigInput = {
    ...recipe.rl,
    seed: recipe.rl.seed + o.seed,
    task,
    rollout: { ...recipe.rl.rollout, maxNewTokens },
    evaluation: { every: o.evalEvery, task: heldOut, sampling },
  };
  const curveSteps = evaluatedSteps(o.rlSteps, o.evalEvery);
  const evaluation = (
    name: string,
    stage: 'base' | 'sft' | 'rl',
    model: EvaluationConfigInput['model'],
    sampled: boolean,
  ) => ({
    name,
    stage,
    config: {
      evalId: `${o.prefix}-${name}`,
      ...(sampled ? { seed: 3 + o.seed } : {}),
      model,
      task: heldOut,
      sampling: sampled ? sampling : { temperature: 0, maxNewTokens },
      store: { url: o.storeUrl },
      orchestration: { intraOpThreads: o.threads },
    },
  });
  const checkpoint = (runId: string, step: number) => ({ checkpoint: { runId, step } });
  const lastEvaluated = curveSteps[curveSteps.length - 1] === o.rlSteps;
  return {
    sft,
    rl,
    curveSteps,
    evals: [
      evaluation('base-greedy', 'base', checkpoint(sft.runId, 0), false),
      evaluation('sft-greedy', 'sft', checkpoint(sft.runId, o.sftSteps), false),
      evaluation('sft-sampled', 'sft', checkpoint(sft.runId, o.sftSteps), true),
      evaluation('rl-greedy', 'rl', checkpoint(rl.runId, o.rlSteps), false),
      ...(lastEvaluated ? [] : [evaluation('rl-sampled', 'rl', checkpoint(rl.runId, o.rlSteps), true)]),
    ],
  };
}
