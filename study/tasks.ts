/**
 * The tasks the factor study can run its arms on, each as the stage configs every arm derives from: the
 * demo's long addition (demo/configs.ts: a habit teacher whose traces answer directly, work the columns or
 * check them, so length is the policy's choice and the length strategies have something to move; the
 * study's default and the README's findings) and the 2-digit recipe (demo/recipe.ts: a fixed
 * worked-solution format, so response length has almost nothing to vary; the study's first task).
 */
import { DEFAULT_DEMO, demoConfigs, type DemoConfigs } from '../demo/configs.ts';
import { DEFAULT_RECIPE, recipeConfigs, type StageConfigs } from '../demo/recipe.ts';

export const STUDY_TASKS = ['2-digit', 'long-addition'] as const;
export type StudyTask = (typeof STUDY_TASKS)[number];

/** The task where response length is the policy's choice: the README's findings are its. */
export const DEFAULT_STUDY_TASK: StudyTask = 'long-addition';

export function parseStudyTask(text: string | undefined): StudyTask {
  if (text === undefined) return DEFAULT_STUDY_TASK;
  const task = STUDY_TASKS.find((t) => t === text);
  if (!task) throw new Error(`--task must be one of ${STUDY_TASKS.join(', ')} (got ${text})`);
  return task;
}

export interface StudyStageOptions {
  prefix: string;
  storeUrl: string;
}

/**
 * The demo's configs as the study uses them. The GRPO run's own periodic held-out evaluations go: the
 * study evaluates each arm's final checkpoint itself (study/run.ts), and a periodic evaluation would keep
 * the base task when an arm changes it (the tool arm). The final sampled evaluation, which the demo leaves
 * to its last periodic one, is the SFT model's sampled evaluation re-pointed (evalsFor re-points it again
 * at each arm's checkpoint), so every stage has its greedy and sampled evaluation in that order.
 */
export function longAdditionStages(demo: DemoConfigs): StageConfigs {
  const { evaluation: _periodic, ...rl } = demo.rl;
  const byName = (name: string) => {
    const e = demo.evals.find((x) => x.name === name);
    if (!e) throw new Error(`the demo's configs have no ${name} evaluation`);
    return e;
  };
  const sftSampled = byName('sft-sampled');
  const rlSampled = demo.evals.find((e) => e.name === 'rl-sampled') ?? {
    ...sftSampled,
    name: 'rl-sampled',
    stage: 'rl' as const,
    config: { ...sftSampled.config, evalId: sftSampled.config.evalId.replace(/sft-sampled$/, 'rl-sampled') },
  };
  return {
    sft: demo.sft,
    rl,
    evals: [byName('sft-greedy'), sftSampled, byName('rl-greedy'), rlSampled],
  };
}

/**
 * The stage configs of a task. One onnxruntime thread per session: the study runs arms side by side
 * (--parallel), and more threads per session would only make them contend for the cores.
 */
export function studyStages(task: StudyTask, o: StudyStageOptions): StageConfigs {
  if (task === '2-digit') return recipeConfigs({ ...DEFAULT_RECIPE, ...o, threads: 1 });
  return longAdditionStages(demoConfigs({ ...DEFAULT_DEMO, ...o, threads: 1 }));
}

/** What the report says of each task: where its SFT model comes from, and what its length can do. */
export const STUDY_TASK_NOTES: Record<StudyTask, { start: string; length: string; tools: string }> = {
  '2-digit': {
    start: "the 2-digit recipe's SFT model (demo/recipe.ts)",
    length:
      'The task is 2-digit addition in a fixed worked-solution format, so response length has almost nothing to vary: ' +
      "the length strategies cannot lengthen what the format fixes, and RRA's reflection words never occur. " +
      "Those rows test the code paths, not the paper's claim about long reasoning.",
    tools: 'solutions that compute the sum in Python (python3 sandbox) and copy its output',
  },
  'long-addition': {
    start: `the demo's long-addition SFT model (demo/configs.ts: ${DEFAULT_DEMO.digits}-digit sums with a carry, ${DEFAULT_DEMO.sftSteps} SFT steps on the habit teacher's traces)`,
    length:
      'The task is long addition with a habit teacher (core/data/habitTraces.ts: direct answers, never right; ' +
      'worked columns; checked columns with "wait, verify:"), so a response\'s length is the habit the policy ' +
      "chooses, and RRA's reflection words occur in every checked response.",
    tools:
      'solutions of the same sums that compute them in Python (python3 sandbox) and copy its output; every ' +
      'trace calls the tool, so this model has no direct or checked habit',
  },
};
