/**
 * Runs the demo's stages as Temporal workflows through a client — SFT, then GRPO (which evaluates its own
 * checkpoints every few steps), then the held-out evaluations of the base, SFT and RL models — following
 * each training workflow through its status query (the progress bar) and timing every stage. Workers are whoever polls the queues: the demo starts
 * them in-process, but any worker fleet would do.
 */
import type { Client } from '@temporalio/client';
import { DEFAULT_WORKFLOW_QUEUE, WORKFLOW_TYPES } from '../client/workflowTypes.ts';
import type { EvaluationSummary } from '../core/metrics/evaluation.ts';
import { statusQuery, type TrainingResult, type TrainingStatus } from '../workflows/definitions.ts';
import type { DemoConfigs } from './configs.ts';
import type { StageConfigs } from './recipe.ts';

/** How often the status query is polled for the progress line. */
const PROGRESS_POLL_MS = 500;

export interface StageTime {
  stage: string;
  seconds: number;
}

export interface PipelineResult {
  sft: TrainingResult;
  rl: TrainingResult;
  evals: { name: string; stage: string; summary: EvaluationSummary }[];
  /** The sampled held-out evaluations by GRPO step: step 0 is the SFT model, the last the final one. */
  curve: CurveEvaluation[];
  times: StageTime[];
}

export interface CurveEvaluation {
  step: number;
  summary: EvaluationSummary;
}

export interface PipelineHooks {
  /** Called with each training status while a training stage runs. */
  onStatus?: (stage: string, status: TrainingStatus) => void;
  onStage?: (stage: string) => void;
}

export async function followTraining(
  client: Client,
  type: typeof WORKFLOW_TYPES.sftTraining | typeof WORKFLOW_TYPES.rlTraining,
  workflowId: string,
  config: unknown,
  stage: string,
  hooks: PipelineHooks,
): Promise<TrainingResult> {
  const handle = await client.workflow.start(type, {
    taskQueue: DEFAULT_WORKFLOW_QUEUE,
    workflowId,
    args: [config],
  });
  let done = false;
  const result = handle.result().finally(() => (done = true)) as Promise<TrainingResult>;
  while (!done) {
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, PROGRESS_POLL_MS))]);
    if (done) break;
    try {
      hooks.onStatus?.(stage, await handle.query(statusQuery));
    } catch {
      // Between continue-as-new runs or before the first workflow task the query may fail; the next poll retries.
    }
  }
  return result;
}

export async function evaluate(
  client: Client,
  config: StageConfigs['evals'][number],
): Promise<EvaluationSummary> {
  return client.workflow.execute(WORKFLOW_TYPES.evaluation, {
    taskQueue: DEFAULT_WORKFLOW_QUEUE,
    workflowId: config.config.evalId,
    args: [config.config],
  }) as Promise<EvaluationSummary>;
}

/**
 * The evaluations a GRPO run started of its own checkpoints (child workflows `<run>-eval-<step>` that
 * outlive it), awaited.
 */
export async function periodicEvaluations(
  client: Client,
  runId: string,
  steps: readonly number[],
): Promise<CurveEvaluation[]> {
  return Promise.all(
    steps.map(async (step) => ({
      step,
      summary: (await client.workflow.getHandle(`${runId}-eval-${step}`).result()) as EvaluationSummary,
    })),
  );
}

export async function runPipeline(
  client: Client,
  configs: DemoConfigs,
  hooks: PipelineHooks = {},
): Promise<PipelineResult> {
  const times: StageTime[] = [];
  const timed = async <T>(stage: string, work: () => Promise<T>): Promise<T> => {
    hooks.onStage?.(stage);
    const t0 = performance.now();
    const out = await work();
    times.push({ stage, seconds: (performance.now() - t0) / 1000 });
    return out;
  };
  const evals: PipelineResult['evals'] = [];
  const evalStage = async (stage: string) => {
    for (const e of configs.evals.filter((x) => x.stage === stage)) {
      evals.push({ name: e.name, stage, summary: await evaluate(client, e) });
    }
  };
  const sft = await timed('sft', () =>
    followTraining(client, WORKFLOW_TYPES.sftTraining, configs.sft.runId, configs.sft, 'sft', hooks),
  );
  await timed('eval base', () => evalStage('base'));
  await timed('eval sft', () => evalStage('sft'));
  const rl = await timed('grpo', () =>
    followTraining(client, WORKFLOW_TYPES.rlTraining, configs.rl.runId, configs.rl, 'grpo', hooks),
  );
  const periodic = await timed('eval grpo', async () => {
    await evalStage('rl');
    return periodicEvaluations(client, configs.rl.runId, configs.curveSteps);
  });
  const summary = (name: string) => evals.find((e) => e.name === name)?.summary;
  const finalSampled = summary('rl-sampled');
  const curve = [
    { step: 0, summary: summary('sft-sampled')! },
    ...periodic,
    ...(finalSampled ? [{ step: configs.rl.steps, summary: finalSampled }] : []),
  ];
  return { sft, rl, evals, curve, times };
}
