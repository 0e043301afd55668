/**
 * Runs the study's arms as Temporal workflows: one SFT run shared by all arms, then for every arm and
 * seed an rlTraining workflow from the SFT checkpoint followed by its held-out evaluations, at most
 * `parallel` arms at a time (each is its own workflow; the workers interleave their activities). Each
 * arm's result is read back from the store: the sampled responses' reflection-word rate, and what its
 * GRPO run trained on (study/training.ts).
 */
import type { Client } from '@temporalio/client';
import { WORKFLOW_TYPES } from '../client/workflowTypes.ts';
import { parseRunConfig, type RunConfigInput } from '../core/config/run.ts';
import { parseEvaluationConfig } from '../core/config/evaluation.ts';
import { heldOutTask, type TaskConfig } from '../core/config/task.ts';
import type { EvaluationSummary } from '../core/metrics/evaluation.ts';
import { openStore } from '../core/store/index.ts';
import type { ObjectStore } from '../core/store/objectStore.ts';
import { evaluationPoint } from '../demo/curves.ts';
import type { StageConfigs } from '../demo/recipe.ts';
import { evaluate, followTraining } from '../demo/pipeline.ts';
import { ARMS, studyBase, toolSftConfig, type Arm, type StudyScale } from './arms.ts';
import type { SeedResult } from './stats.ts';
import { readTrainingSignal, type TrainingSignal } from './training.ts';

export interface ArmRun {
  arm: Arm;
  seed: number;
  config: RunConfigInput;
}

export interface ArmOutcome {
  arm: string;
  seed: number;
  runId: string;
  result: SeedResult;
  seconds: number;
}

/** Seeds of the arms' RL runs (the SFT model is shared). */
const SEED_BASE = 100;

export function armRuns(
  recipe: StageConfigs,
  scale: StudyScale,
  prefix: string,
  only?: readonly string[],
): ArmRun[] {
  const unknown = (only ?? []).filter((id) => !ARMS.some((a) => a.id === id));
  if (unknown.length > 0) {
    throw new Error(`--arms: unknown arm ${unknown.join(', ')} (known: ${ARMS.map((a) => a.id).join(', ')})`);
  }
  const base = studyBase(recipe, scale.steps);
  const toolSft = toolSftConfig(recipe);
  const runs: ArmRun[] = [];
  for (let s = 0; s < scale.seeds; s++) {
    for (const arm of ARMS.filter((a) => !only || only.includes(a.id))) {
      const config = arm.patch({ ...base, seed: SEED_BASE + s });
      const model =
        arm.sft === 'tools' ? { checkpoint: { runId: toolSft.runId, step: toolSft.steps } } : config.model;
      runs.push({
        arm,
        seed: SEED_BASE + s,
        config: { ...config, model, runId: `${prefix}-${arm.id}-s${s}` },
      });
    }
  }
  return runs;
}

/**
 * The run's task (the tool arm's has its tool) on the evaluation's held-out problems: the recipe's
 * `heldOutSize`, which the SFT model was evaluated on, not the run config's default.
 */
function heldOutOf(run: ArmRun, evaluation: StageConfigs['evals'][number]): TaskConfig {
  const task = heldOutTask(parseRunConfig(run.config).task);
  const problems = parseEvaluationConfig(evaluation.config).task;
  if (task.kind !== 'math' || task.data.source !== 'synthetic') return task;
  if (problems.kind !== 'math' || problems.data.source !== 'synthetic') return task;
  return { ...task, data: { ...task.data, heldOutSize: problems.data.heldOutSize } };
}

/**
 * A sampled evaluation at the training temperature (T = 1.0, no top-p): the policy as GRPO sampled it.
 * The paper's protocol (T = 0.6, top-p 0.95) is the study's first measure; on long addition every arm
 * reaches 0.96–1.00 under it within 12 steps, where the arms still differ at T = 1.0 (docs/study.md).
 */
export function atTrainingTemperature(e: StageConfigs['evals'][number]): StageConfigs['evals'][number] {
  const sampling = e.config.sampling as Record<string, unknown>;
  return {
    ...e,
    name: `${e.name}-t1`,
    config: {
      ...e.config,
      evalId: `${e.config.evalId}-t1`,
      sampling: { ...sampling, temperature: 1.0, topP: 1.0 },
    },
  };
}

/** The task's greedy and sampled evaluations of a stage, then the sampled one at the training temperature. */
export function stageEvals(recipe: StageConfigs, stage: 'sft' | 'rl'): StageConfigs['evals'] {
  const named = (name: string) => {
    const e = recipe.evals.find((x) => x.stage === stage && x.name === `${stage}-${name}`);
    if (!e) throw new Error(`the task's configs have no ${stage}-${name} evaluation`);
    return e;
  };
  const sampled = named('sampled');
  return [named('greedy'), sampled, atTrainingTemperature(sampled)];
}

/**
 * The held-out evaluations of an RL run's final checkpoint (greedy, T = 0.6, T = 1.0): the task's,
 * pointed at this run, with the run's task (the tool arm evaluates with its tool) and response length,
 * on the SFT model's problems.
 */
export function evalsFor(recipe: StageConfigs, run: ArmRun): StageConfigs['evals'] {
  return stageEvals(recipe, 'rl').map((e) => ({
    ...e,
    config: {
      ...e.config,
      evalId: `${run.config.runId}-${e.name.replace(/^rl-/, '')}`,
      model: { checkpoint: { runId: run.config.runId, step: run.config.steps } },
      task: heldOutOf(run, e),
      sampling: { ...e.config.sampling, maxNewTokens: run.config.rollout?.maxNewTokens },
    },
  }));
}

export function seedResult(
  seed: number,
  /** In stageEvals' order: greedy, sampled (T = 0.6), sampled at T = 1.0. */
  [greedy, sampled, atT1]: readonly EvaluationSummary[],
  /** Of the sampled responses at T = 0.6 and at T = 1.0. */
  [reflectionRate, reflectionRateT1]: readonly [number, number],
  training?: TrainingSignal,
): SeedResult {
  return {
    seed,
    accuracy: sampled.accuracy,
    accuracyT1: atT1.accuracy,
    greedyAccuracy: greedy.accuracy,
    meanLength: sampled.meanLength,
    lengthStd: sampled.lengthStd,
    reflectionRate,
    meanLengthT1: atT1.meanLength,
    lengthStdT1: atT1.lengthStd,
    reflectionRateT1,
    responses: sampled.problems * sampled.samples,
    ...(training ? { training } : {}),
  };
}

/** The reflection-word rate of an evaluation's responses: the summary leaves their text out, the records keep it. */
export async function reflectionRateOf(store: ObjectStore, summary: EvaluationSummary): Promise<number> {
  return (await evaluationPoint(store, { step: summary.step ?? 0, summary })).reflectionRate;
}

async function runArm(client: Client, recipe: StageConfigs, run: ArmRun): Promise<ArmOutcome> {
  const t0 = performance.now();
  await followTraining(client, WORKFLOW_TYPES.rlTraining, run.config.runId, run.config, run.arm.id, {});
  const summaries = await Promise.all(evalsFor(recipe, run).map((e) => evaluate(client, e)));
  const [, sampled, atT1] = summaries;
  const store = openStore(run.config.store.url);
  const [reflection, reflectionT1, training] = await Promise.all([
    reflectionRateOf(store, sampled),
    reflectionRateOf(store, atT1),
    readTrainingSignal(store, run.config.runId),
  ]);
  return {
    arm: run.arm.id,
    seed: run.seed,
    runId: run.config.runId,
    result: seedResult(run.seed, summaries, [reflection, reflectionT1], training),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** An error's message and its causes' (Temporal's WorkflowFailedError keeps the reason in its cause). */
export function causeChain(error: unknown): string {
  const parts: string[] = [];
  for (let e = error; e instanceof Error && parts.length < 8; e = e.cause) parts.push(e.message);
  return parts.length > 0 ? parts.join(': ') : String(error);
}

/**
 * Runs every arm, `parallel` at a time, reporting each as it finishes. When an arm fails, no further arm
 * starts, the ones running finish, and then the first failure is thrown, naming its arm: the caller
 * closes the Temporal connection next, which must not happen under calls still in flight (a client call
 * retrying on a closed connection throws from a timer and takes the process down with it, hiding the error).
 */
export async function runArms(
  client: Client,
  recipe: StageConfigs,
  runs: readonly ArmRun[],
  parallel: number,
  onDone: (o: ArmOutcome, done: number, total: number) => void,
  runOne: (client: Client, recipe: StageConfigs, run: ArmRun) => Promise<ArmOutcome> = runArm,
): Promise<ArmOutcome[]> {
  const outcomes: ArmOutcome[] = [];
  const failures: Error[] = [];
  let next = 0;
  const lane = async () => {
    while (next < runs.length && failures.length === 0) {
      const run = runs[next++];
      try {
        const o = await runOne(client, recipe, run);
        outcomes.push(o);
        onDone(o, outcomes.length, runs.length);
      } catch (error) {
        const message = `arm ${run.arm.id} seed ${run.seed} (run ${run.config.runId}): ${causeChain(error)}`;
        failures.push(new Error(message, { cause: error }));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, runs.length) }, lane));
  if (failures.length > 0) throw failures[0];
  return outcomes;
}
