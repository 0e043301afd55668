/**
 * The length experiment's configs: the demo's (demo/configs.ts: the same tiny Qwen2, SFT schedule and
 * STILL-3 GRPO recipe) on the long-addition task, where the habit teacher's traces answer directly, work
 * the columns or check them (core/data/habitTraces.ts), so response length is the policy's to choose.
 * Only what the task needs changes: the data, room for the longer responses, and a held-out evaluation
 * every few GRPO steps (sampled as the paper evaluates) to follow accuracy and length over the run.
 */
import type { EvaluationConfigInput } from '../core/config/evaluation.ts';
import type { RunConfigInput } from '../core/config/run.ts';
import type { SftConfigInput } from '../core/config/sft.ts';
import type { HabitRates } from '../core/data/habitTraces.ts';
import { DEFAULT_DEMO, DEMO_MODEL, demoConfigs, type DemoOptions } from './configs.ts';

export interface LengthTaskOptions extends DemoOptions {
  /** Digits of each operand of the sums. */
  digits: number;
  /** GRPO steps between held-out evaluations. */
  evalEvery: number;
  /**
   * Added to every seed of the run (model init, SFT and its teacher's draws, GRPO, evaluation sampling):
   * 0 is the single run documented in docs/study.md; others are the independent repeats an interval needs.
   * The problems (training and held-out) stay the same.
   */
  seed: number;
  /** The habit teacher's rates; absent: its defaults (core/data/habitTraces.ts). */
  habits?: HabitRates;
}

/**
 * 2-digit sums: at the 3-layer model's size, 300 SFT steps on 3-digit traces (half of them direct) learned
 * the format but not the columns (held-out accuracy 0.00). 800 SFT steps, not the demo's 300: the teacher
 * works the columns in 70% of its traces; at 300 steps (half of them direct) the model's columns were no
 * better than its direct answers, and at 500 one teacher mix learned them (0.84) and another did not (0.30).
 */
export const DEFAULT_LENGTH_TASK: Omit<LengthTaskOptions, 'prefix' | 'storeUrl'> = {
  ...DEFAULT_DEMO,
  digits: 2,
  sftSteps: 800,
  rlSteps: 20,
  evalEvery: 5,
  evalSamples: 2,
  seed: 0,
};

/**
 * Longest response: a checked 2-digit sum with every carry is 71 tokens (two passes of columns, the
 * reflection words and restated operands, the boxed answer); each digit more adds ≤ 20.
 */
export function lengthTaskMaxNewTokens(digits: number): number {
  return 24 * digits + 32;
}

/** Prompt ("Compute $a + b$.\n": 2 × digits + 15 tokens) and the longest response. */
function positionsFor(digits: number): number {
  return 2 * digits + 16 + lengthTaskMaxNewTokens(digits);
}

export function lengthTaskData(digits: number) {
  return {
    source: 'synthetic' as const,
    // At least one carry into a next column: a direct answer has to carry in its head to be right.
    task: { kind: 'longAddition' as const, knobs: { digits, minCarries: 1 } },
    size: 4000,
    seed: 1,
  };
}

export interface LengthTaskConfigs {
  sft: SftConfigInput;
  rl: RunConfigInput;
  /** The SFT model's held-out evaluation, sampled as the run's periodic ones (step 0 of the curve). */
  sftEval: EvaluationConfigInput;
}

export function lengthTaskConfigs(o: LengthTaskOptions): LengthTaskConfigs {
  const demo = demoConfigs(o);
  const maxNewTokens = lengthTaskMaxNewTokens(o.digits);
  const data = lengthTaskData(o.digits);
  const task = { ...demo.sft.task, data };
  const init = DEMO_MODEL.init;
  const model = {
    init: {
      ...init,
      seed: init.seed + o.seed,
      config: { ...init.config, maxPositionEmbeddings: positionsFor(o.digits) },
    },
  };
  // The habit teacher replaces the careless one (traceErrorRate has no say on this task).
  const { traceErrorRate: _careless, ...sftSection } = demo.sft.sft ?? {};
  const sft: SftConfigInput = {
    ...demo.sft,
    seed: demo.sft.seed + o.seed,
    model,
    task,
    sft: o.habits ? { ...sftSection, habits: o.habits } : sftSection,
  };
  const heldOut = { ...task, data: { ...data, split: 'heldOut' as const, heldOutSize: o.heldOutProblems } };
  // The paper's sampled evaluation: T = 0.6, top-p 0.95, pass@1 averaged over the samples.
  const sampling = { temperature: 0.6, topP: 0.95, samples: o.evalSamples, maxNewTokens };
  const rl: RunConfigInput = {
    ...demo.rl,
    seed: demo.rl.seed + o.seed,
    task,
    rollout: { ...demo.rl.rollout, maxNewTokens },
    evaluation: { every: o.evalEvery, task: heldOut, sampling },
  };
  const sftEval: EvaluationConfigInput = {
    evalId: `${o.prefix}-sft-sampled`,
    seed: 3 + o.seed,
    model: { checkpoint: { runId: sft.runId, step: o.sftSteps } },
    task: heldOut,
    sampling,
    store: { url: o.storeUrl },
    orchestration: { intraOpThreads: o.threads },
  };
  return { sft, rl, sftEval };
}
