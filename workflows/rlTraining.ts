/**
 * rlTraining: the RL loop of the paper as durable orchestration — each step samples rollouts (fanned out
 * over shards), scores them, updates the policy and checkpoints it. No tensors here: activities exchange
 * store keys and small summaries. Resuming = starting it again with the same run id (the workflow id):
 * prepareRun finds the newest verified checkpoint. The history is kept short by continuing as new.
 * setHyperParameters (workflows/hyperParameters.ts) changes hyper-parameters from the next step that has
 * not started sampling; the trainer activities go to one trainer worker while it lives
 * (workflows/stickyTrainer.ts); with orchestration.trainer.engine "torch", updatePolicy goes to the PyTorch
 * trainer workers and checkpoint to the TypeScript ones. With orchestration.fusedStep, everything after
 * sampling (reference log-probs, scoring, update, checkpoint) is one trainStep activity on that trainer:
 * two server round trips per step instead of four or five.
 */
import { ParentClosePolicy, patched, proxyActivities, startChild } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { EvaluationConfigInput } from '../core/config/evaluation.ts';
import { evaluation } from './evaluation.ts';
import type * as activities from '../activities/index.ts';
import type { Cursor, RawRunConfig } from '../activities/types.ts';
import type { TrainingResult } from './definitions.ts';
import { hyperParameterMetrics, withHyperParameters } from '../core/config/hyperParameters.ts';
import { hyperParameterControl } from './hyperParameters.ts';
import { stepMetrics } from '../core/metrics/stepMetrics.ts';
import { stickyTrainer } from './stickyTrainer.ts';
import { torchTrainerQueue } from '../core/config/taskQueues.ts';
import { MODEL_PASS_TIMEOUT, prepareOptions, RETRY } from './activityOptions.ts';
import {
  continueAsNewWhenDue,
  finishTraining,
  pausedOrStopped,
  trainingStatus,
  type TrainingCarry,
} from './trainingLoop.ts';

export type { TrainingCarry } from './trainingLoop.ts';

/**
 * The patch that added referenceLogProbs before scoreRollouts: a history recorded before it scores the
 * reference inside scoreRollouts, on the CPU, and replays so.
 */
export const REFERENCE_ON_TRAINER_PATCH = 'reference-log-probs-on-trainer';

/**
 * Starts the evaluation of a step's checkpoint as a child workflow that outlives the run (ABANDON): the
 * run goes on training meanwhile. Its id is derived from the step, so a step re-run after a resume finds
 * it already started and moves on.
 */
async function startEvaluation(
  runId: string,
  step: number,
  config: Omit<EvaluationConfigInput, 'model'>,
): Promise<string> {
  const workflowId = `${runId}-eval-${step}`;
  try {
    await startChild(evaluation, {
      workflowId,
      args: [{ ...config, model: { checkpoint: { runId, step } } }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
  return workflowId;
}

/**
 * Marks histories made by code that routes a torch-engine run's updatePolicy to the torch trainers: one
 * recorded before (where a plan saying "torch" could only have come from a newer activity worker, and the
 * updates went to the TypeScript trainer) replays the way it ran.
 */
export const TORCH_TRAINER_PATCH = 'torch-trainer-engine';

/**
 * Marks histories made by code that runs a fusedStep run's step after sampling as one trainStep activity;
 * one recorded before (where a plan with fusedStep could only have come from a newer activity worker)
 * replays as it ran, with the separate activities.
 */
export const FUSED_STEP_PATCH = 'fused-train-step';

export async function rlTraining(config: RawRunConfig, carry: TrainingCarry = {}): Promise<TrainingResult> {
  const status = trainingStatus(carry);
  const hyperParameters = hyperParameterControl(status, carry.hyperParameters);
  if (carry.trainerQueue) status.trainerQueue = carry.trainerQueue;

  const { prepareRun } = proxyActivities<typeof activities>(prepareOptions(config));
  const plan = await prepareRun(config);
  hyperParameters.start(plan.hyperParameters.base, plan.hyperParameters.overrides);
  status.runId = plan.runId;
  status.step = plan.checkpointStep;
  status.totalSteps = plan.totalSteps;
  status.rejectedCheckpoints = plan.rejected;
  const modelPass = {
    startToCloseTimeout: MODEL_PASS_TIMEOUT,
    heartbeatTimeout: `${plan.heartbeatTimeoutSeconds} seconds`,
    retry: RETRY,
  };
  const { sampleRollouts } = proxyActivities<typeof activities>({
    ...modelPass,
    taskQueue: plan.taskQueues.rollout,
  });
  const { scoreRollouts } = proxyActivities<typeof activities>({
    ...modelPass,
    taskQueue: plan.taskQueues.cpu,
  });
  // The reference policy's forward pass runs where the policy's do: the trainer queue, `-gpu` on cuda.
  const { referenceLogProbs } = proxyActivities<typeof activities>({
    ...modelPass,
    taskQueue: plan.taskQueues.trainer,
  });
  const torch = plan.trainerEngine === 'torch' && patched(TORCH_TRAINER_PATCH);
  const { updatePolicy, checkpoint, trainStep } = stickyTrainer(status, {
    sharedQueue: plan.taskQueues.trainer,
    heartbeatSeconds: plan.heartbeatTimeoutSeconds,
    ...(torch ? { torchQueue: torchTrainerQueue(plan.taskQueues.trainer) } : {}),
  });
  // Only a plan that asks for it calls patched(): the histories of every other run hold no marker.
  const fused = plan.fusedStep === true && patched(FUSED_STEP_PATCH);

  let cursor: Cursor = plan.cursor;
  let weightsSha256 = plan.weightsSha256;
  while (status.step < plan.totalSteps) {
    if (await pausedOrStopped(status)) break;
    const step = status.step + 1;
    // The step's hyper-parameters, fixed now and written into the config its activities get (the one place
    // overrides are applied); the run's identity stays prepareRun's hash, which the trainer keys its state by.
    const stepConfig = withHyperParameters(config, hyperParameters.beginStep(step));

    status.phase = 'sampling';
    const sampleRound = (round: number, from: Cursor) =>
      Promise.all(
        Array.from({ length: plan.shards }, (_, shard) =>
          sampleRollouts({ config: stepConfig, step, shard, cursor: from, ...(round ? { round } : {}) }),
        ),
      );
    const shards = await sampleRound(0, cursor);
    // DAPO dynamic sampling with refill (verl filter_groups): sample further prompts, round after round
    // from where the previous round's cursor stopped, until promptsPerStep groups have signal or the
    // rounds run out. Each round depends only on the step's starting cursor, so a re-run repeats it.
    let rounds = 1;
    const kept = () => shards.reduce((n, s) => n + (s.groupsKept ?? 0), 0);
    while (rounds <= (plan.maxRefillRounds ?? 0) && kept() < plan.promptsPerStep!) {
      shards.push(...(await sampleRound(rounds, shards[shards.length - 1].nextCursor)));
      rounds++;
    }
    const nextCursor = shards[shards.length - 1].nextCursor;
    // The overrides in force for the next step travel with the checkpoint: a resumed run keeps them (those
    // accepted while the checkpoint is written, or while trainStep runs, only from the next checkpoint).
    const overrideMetrics = () => hyperParameterMetrics(hyperParameters.overrides());
    let metrics: Record<string, number>;
    let saved: { weightsSha256: string; seconds?: number };
    if (fused) {
      // orchestration.fusedStep: reference, scoring, update and checkpoint in one trainer activity.
      status.phase = 'updating';
      const done = await trainStep({
        config: stepConfig,
        runConfig: config,
        configHash: plan.configHash,
        step,
        shards,
        ...(rounds > 1 ? { rounds } : {}),
        referenceLogProbs: plan.referenceLogProbs === true,
        refill: (plan.maxRefillRounds ?? 0) > 0,
        cursor: nextCursor,
        extraMetrics: overrideMetrics(),
      });
      metrics = done.metrics;
      saved = done.checkpoint;
    } else {
      status.phase = 'scoring';
      const batch = {
        config: stepConfig,
        step,
        shardKeys: shards.map((s) => s.key),
        ...(rounds > 1 ? { rounds } : {}),
      };
      // A run with a KL term: the reference's log-probs first, on the trainer's device (verl's ref worker
      // group); scoreRollouts reads them. Histories from before the patch scored them inside scoreRollouts.
      const reference =
        plan.referenceLogProbs && patched(REFERENCE_ON_TRAINER_PATCH)
          ? await referenceLogProbs(batch)
          : undefined;
      const scored = await scoreRollouts({ ...batch, ...(reference ? { referenceKey: reference.key } : {}) });
      status.phase = 'updating';
      const update = await updatePolicy({
        config: stepConfig,
        configHash: plan.configHash,
        step,
        scoredKey: scored.key,
      });
      metrics = stepMetrics({
        shards,
        scored,
        update,
        ...(reference ? { referenceSeconds: reference.seconds } : {}),
        rounds,
        refill: (plan.maxRefillRounds ?? 0) > 0,
      });
      status.phase = 'checkpointing';
      saved = await checkpoint({
        config,
        step,
        objects: update.objects,
        cursor: nextCursor,
        metrics: { ...metrics, ...overrideMetrics() },
      });
    }

    if (plan.evaluation && step % plan.evaluation.every === 0) {
      (status.evaluations ??= []).push(await startEvaluation(plan.runId, step, plan.evaluation.config));
    }

    cursor = nextCursor;
    weightsSha256 = saved.weightsSha256;
    status.step = step;
    status.stepsThisRun++;
    status.lastMetrics = { ...metrics, 'timing/checkpoint': saved.seconds ?? 0 };
    status.lastWeightsSha256 = weightsSha256;
    hyperParameters.endStep();

    await continueAsNewWhenDue(status, plan.continueAsNewEvery, config, () => ({
      hyperParameters: hyperParameters.overrides(),
    }));
  }
  const stopped = await finishTraining(status);
  return {
    runId: plan.runId,
    step: status.step,
    stopped,
    weightsSha256,
    metrics: status.lastMetrics,
    rejectedCheckpoints: plan.rejected,
  };
}
