/**
 * The STILL-3 factor study at CPU scale: arms that each change one factor of a base GRPO recipe (the
 * task's, study/tasks.ts, on the same SFT model), and the paper's findings as comparisons between arms.
 * Batch sizes and rollout counts are scaled down from the paper's (128 prompts × 8) to what 2 cores run
 * in minutes. Every patch reads what it changes from the base, so it applies to either task's base.
 */
import type { RunConfigInput } from '../core/config/run.ts';
import type { SftConfigInput } from '../core/config/sft.ts';
import type { StageConfigs } from '../demo/recipe.ts';

export interface Arm {
  id: string;
  factor: string;
  label: string;
  /** Changes to the base RL config (shallow per section). */
  patch: (base: RunConfigInput) => RunConfigInput;
  /** The SFT model the arm starts from: the task's (default) or the one fine-tuned on tool-using solutions. */
  sft?: 'tools';
  /** The arm a length strategy is measured against: `base`, unless the strategy needs its own control. */
  control?: string;
}

/** The study's tool: the python3 sandbox (native speed), the paper's protocol and output limit. */
export const STUDY_TOOLS = { backend: 'python3' as const, maxCalls: 2, execute: true };
/** A tool-using solution of a 2-digit sum is ≈ 57 tokens (code block, output block, boxed answer). */
export const TOOL_MAX_NEW_TOKENS = 72;
/** Positions of the tool model: the prompt and TOOL_MAX_NEW_TOKENS with room to spare. */
const TOOL_POSITIONS = 128;

type MathTaskInput = Extract<NonNullable<RunConfigInput['task']>, { kind: 'math' }>;

/** The task with the Python tool. */
export function withTools(task: RunConfigInput['task']): MathTaskInput {
  return { ...(task as MathTaskInput), tools: STUDY_TOOLS };
}

/**
 * SFT steps of the tool model: copying the sandbox's output into the answer is the last thing a tiny model
 * learns (test/integration/tools/sftToolUse.test.ts needs ≈ 1,000 steps for 8-digit products; 2-digit
 * sums need fewer).
 */
export const TOOL_SFT_STEPS = 600;

/**
 * The SFT run of the tool arm: the task's, on solutions that compute the sum in Python and copy its output
 * (core/data/traces.ts arithmeticToolTrace: long addition states its sums as the arithmetic task does, so
 * the same trace serves both), with room for the longer responses. With the tool every trace calls it
 * (activities/sft.ts traceRow): the careless teacher has nothing to forget there and the habit teacher's
 * rates have no say, so they are left out rather than left unused. It gets more steps than the 2-digit
 * recipe's SFT: the report says so.
 */
export function toolSftConfig(recipe: StageConfigs): SftConfigInput {
  const init = (recipe.sft.model as { init: { config: { maxPositionEmbeddings?: number } } }).init;
  const positions = Math.max(TOOL_POSITIONS, init.config.maxPositionEmbeddings ?? 0);
  const { habits: _habits, ...sftSection } = recipe.sft.sft ?? {};
  return {
    ...recipe.sft,
    runId: `${recipe.sft.runId}-tools`,
    steps: TOOL_SFT_STEPS,
    model: {
      init: { ...init, config: { ...init.config, maxPositionEmbeddings: positions } },
    } as SftConfigInput['model'],
    task: withTools(recipe.sft.task),
    ...(recipe.sft.sft ? { sft: sftSection } : {}),
  };
}

export interface StudyScale {
  steps: number;
  seeds: number;
}

/**
 * `--quick` (CI): every arm once, a few steps. The full study: 5 seeds and twice the steps. Five, not
 * three: an interval over n seeds is t(n−1)·s/√n wide, at 3 seeds 4.30/√3 = 2.48 s against
 * 2.78/√5 = 1.24 s at 5: half as wide, for 5/3 of the runs.
 */
export const QUICK_SCALE: StudyScale = { steps: 6, seeds: 1 };
export const FULL_SCALE: StudyScale = { steps: 12, seeds: 5 };

/** The base recipe of every arm: the task's GRPO at half its batch (16 prompts × 8). */
export const BASE_PROMPTS = 16;
export const BASE_N = 8;

const rollout = (b: RunConfigInput, r: Partial<NonNullable<RunConfigInput['rollout']>>) => ({
  ...b,
  rollout: { ...b.rollout, ...r },
});
const algorithm = (b: RunConfigInput, a: Partial<NonNullable<RunConfigInput['algorithm']>>) => ({
  ...b,
  algorithm: { ...b.algorithm, ...a },
});
/** Mini-batch size giving `updates` optimizer steps per rollout batch. */
const updatesPerBatch = (b: RunConfigInput, updates: number) => {
  const batch = (b.rollout!.promptsPerStep ?? BASE_PROMPTS) * (b.rollout!.n ?? BASE_N);
  return algorithm(b, { miniBatchSize: batch / updates, microBatchSize: batch / updates });
};
const lengthStrategy = (b: RunConfigInput, strategy: string) => {
  const task = b.task as Extract<RunConfigInput['task'], { kind: 'math' }>;
  const maxNewTokens = b.rollout!.maxNewTokens!;
  return {
    ...b,
    task: {
      ...task,
      reward: {
        ...task.reward,
        lengthStrategy: strategy as 'none',
        ...(strategy === 'rrl' ? { rrlMaxLength: maxNewTokens } : {}),
      },
    },
  };
};
/**
 * The response limit of the ORM pair. ORM masks truncated responses out of the loss, so it does something
 * only where responses are cut: at the task's limit every habit fits. A checked response is 65–71 tokens
 * (its end-of-sequence included; the longer ones check sums with more carries or a third digit): at 66
 * the shorter checks fit and the longer ones are cut, as the paper's limits cut the long tail of its
 * responses, while every direct and worked response (≤ 29) fits. Both arms of the pair run at this
 * limit, ORM's and its control's, so the difference between them is ORM's alone; the other arms keep the
 * task's limit.
 */
export const ORM_MAX_NEW_TOKENS = 66;
const ormLimit = (b: RunConfigInput) => rollout(b, { maxNewTokens: ORM_MAX_NEW_TOKENS });

/** KL as a loss with k3 (the Zero runs' form) at a coefficient large enough to matter in a few steps. */
const STUDY_KL_COEF = 0.05;

export const ARMS: Arm[] = [
  { id: 'base', factor: 'base', label: 'base (16×8, T=1.0, 2 updates, k1 KL 0.001)', patch: (b) => b },
  {
    id: 'batch-8',
    factor: 'batch size',
    label: '8 prompts/step',
    patch: (b) => updatesPerBatch(rollout(b, { promptsPerStep: 8 }), 2),
  },
  {
    id: 'on-policy',
    factor: 'on/off-policy',
    label: '1 update per batch',
    patch: (b) => updatesPerBatch(b, 1),
  },
  {
    id: 'off-policy',
    factor: 'on/off-policy',
    label: '4 updates per batch',
    patch: (b) => updatesPerBatch(b, 4),
  },
  {
    id: 'n-4',
    factor: 'rollouts per prompt',
    label: 'n = 4',
    patch: (b) => updatesPerBatch(rollout(b, { n: 4 }), 2),
  },
  {
    id: 'n-16',
    factor: 'rollouts per prompt',
    label: 'n = 16',
    patch: (b) => updatesPerBatch(rollout(b, { n: 16 }), 2),
  },
  { id: 'temp-0.6', factor: 'temperature', label: 'T = 0.6', patch: (b) => rollout(b, { temperature: 0.6 }) },
  { id: 'temp-1.2', factor: 'temperature', label: 'T = 1.2', patch: (b) => rollout(b, { temperature: 1.2 }) },
  { id: 'kl-none', factor: 'KL', label: 'no KL', patch: (b) => algorithm(b, { kl: { placement: 'none' } }) },
  {
    id: 'kl-fixed',
    factor: 'KL',
    label: `k3 loss ${STUDY_KL_COEF}, fixed`,
    patch: (b) => algorithm(b, { kl: { placement: 'loss', estimator: 'k3', coef: STUDY_KL_COEF } }),
  },
  {
    id: 'kl-cosine',
    factor: 'KL',
    label: `k3 loss ${STUDY_KL_COEF}, cosine to 0`,
    patch: (b) =>
      algorithm(b, {
        kl: {
          placement: 'loss',
          estimator: 'k3',
          coef: STUDY_KL_COEF,
          schedule: 'cosine',
          annealSteps: b.steps,
        },
      }),
  },
  {
    id: 'tools',
    factor: 'tool use',
    label: 'Python tool (SFT on tool-using solutions, GRPO with the sandbox)',
    sft: 'tools',
    // Room for the tool's code and output block; never less than the base's (long addition's checked
    // responses already need more).
    patch: (b) =>
      rollout(
        { ...b, task: withTools(b.task) },
        { maxNewTokens: Math.max(TOOL_MAX_NEW_TOKENS, b.rollout?.maxNewTokens ?? 0) },
      ),
  },
  ...(['qs', 'rs', 'rrl', 'rra'] as const).map((s) => ({
    id: `length-${s}`,
    factor: 'length strategy',
    label: s.toUpperCase(),
    patch: (b: RunConfigInput) => lengthStrategy(b, s),
  })),
  {
    id: 'orm-control',
    factor: 'length strategy',
    label: `no strategy, ${ORM_MAX_NEW_TOKENS}-token limit (ORM's control)`,
    patch: ormLimit,
  },
  {
    id: 'length-orm',
    factor: 'length strategy',
    label: `ORM, ${ORM_MAX_NEW_TOKENS}-token limit`,
    control: 'orm-control',
    patch: (b) => lengthStrategy(ormLimit(b), 'orm'),
  },
];

/** The arm a length strategy's arm is compared with (its own control, else the base arm). */
export function controlOf(armId: string): string {
  return ARMS.find((a) => a.id === armId)?.control ?? 'base';
}

/** The base RL config of the study: the task's GRPO stage at the study's batch and step count. */
export function studyBase(recipe: StageConfigs, steps: number): RunConfigInput {
  const b = { ...recipe.rl, steps };
  return updatesPerBatch(rollout(b, { promptsPerStep: BASE_PROMPTS, n: BASE_N }), 2);
}

export interface Finding {
  factor: string;
  paper: string;
  /** Metric compared: held-out sampled accuracy or mean response length (T = 0.6; T = 1.0). */
  metric: 'accuracy' | 'accuracyT1' | 'length' | 'lengthT1';
  /** The paper's direction: `better` − `worse` > 0 (or, with `keeps`, not significantly < 0). */
  better: string;
  worse: string;
  keeps?: boolean;
}

const PAPER_FINDINGS: Finding[] = [
  {
    factor: 'batch size',
    paper: 'a bigger batch trains better',
    metric: 'accuracy',
    better: 'base',
    worse: 'batch-8',
  },
  {
    factor: 'on/off-policy',
    paper: 'on-policy beats off-policy',
    metric: 'accuracy',
    better: 'on-policy',
    worse: 'off-policy',
  },
  {
    factor: 'rollouts per prompt',
    paper: 'more rollouts per prompt train better',
    metric: 'accuracy',
    better: 'n-16',
    worse: 'n-4',
  },
  {
    factor: 'temperature',
    paper: 'T = 1.2 beats T = 1.0',
    metric: 'accuracy',
    better: 'temp-1.2',
    worse: 'base',
  },
  {
    factor: 'temperature',
    paper: 'T = 1.0 beats T = 0.6',
    metric: 'accuracy',
    better: 'base',
    worse: 'temp-0.6',
  },
  {
    factor: 'KL',
    paper: 'annealed KL beats fixed KL',
    metric: 'accuracy',
    better: 'kl-cosine',
    worse: 'kl-fixed',
  },
  {
    factor: 'KL',
    paper: 'annealed KL beats no KL',
    metric: 'accuracy',
    better: 'kl-cosine',
    worse: 'kl-none',
  },
  ...(['qs', 'rs', 'rrl', 'rra', 'orm'] as const).map((s) => ({
    factor: 'length strategy',
    paper: `${s.toUpperCase()} lengthens responses`,
    metric: 'length' as const,
    better: `length-${s}`,
    worse: controlOf(`length-${s}`),
  })),
  {
    factor: 'tool use',
    paper: 'tool manipulation raises accuracy',
    metric: 'accuracy',
    better: 'tools',
    worse: 'base',
  },
  {
    factor: 'length strategy',
    paper: 'RRA keeps accuracy',
    metric: 'accuracy',
    better: 'length-rra',
    worse: 'base',
    keeps: true,
  },
];

/**
 * The paper's findings, each twice: at the paper's evaluation temperature (T = 0.6, top-p 0.95) and, right
 * after it, at the training temperature (T = 1.0), where the arms' policies still differ once every arm is
 * near 1.00 at T = 0.6, and where a habit the policy samples at a rate of a few percent still shows (at
 * T = 0.6 with top-p it all but vanishes).
 */
export const FINDINGS: Finding[] = PAPER_FINDINGS.flatMap((f) => [
  f,
  { ...f, metric: f.metric === 'accuracy' ? ('accuracyT1' as const) : ('lengthT1' as const) },
]);
