/**
 * Activity inputs and outputs: object-store keys and small summaries only (Temporal caps a payload at
 * 2 MB). Shared by the workflows, which import these types and nothing else from activities/.
 */
import type { EvaluationConfigInput } from '../core/config/evaluation.ts';
import type { RunConfigInput } from '../core/config/run.ts';
import type { TrainerEngine } from '../core/config/trainerEngine.ts';

/**
 * A run config as JSON, as given to the workflow (with a step's hyper-parameter overrides written in, for
 * the step's activities); each worker process parses it once (activities/parsedConfig.ts).
 */
export type RawRunConfig = RunConfigInput;

/** A resumable position in the task's dataset (core/data/cursor.ts). */
export interface Cursor {
  epoch: number;
  position: number;
  seed: number;
}

/** What the workflow needs to drive a run, decided by prepareRun from the config and the store. */
export interface RunPlan {
  runId: string;
  configHash: string;
  totalSteps: number;
  /** The newest verified checkpoint: the next step to run is this + 1. */
  checkpointStep: number;
  cursor: Cursor;
  /** sha256 of the newest checkpoint's weights/model.safetensors. */
  weightsSha256: string;
  shards: number;
  /**
   * The run has a KL term (algorithm.kl.placement ≠ none): each step's reference log-probs are computed
   * by referenceLogProbs on the trainer's queue before scoring.
   */
  referenceLogProbs?: boolean;
  /** Dynamic-sampling refill: further sampling rounds allowed per step (0 = none), and the groups a step trains. */
  maxRefillRounds?: number;
  promptsPerStep?: number;
  continueAsNewEvery: number;
  heartbeatTimeoutSeconds: number;
  taskQueues: { rollout: string; cpu: string; trainer: string };
  /**
   * orchestration.trainer.engine, present only when "torch": updatePolicy then goes to the torch trainers'
   * queue (`<taskQueues.trainer>-torch`), checkpoint still to taskQueues.trainer. Absent in plans made
   * before the field existed, which the workflow's recorded histories hold.
   */
  trainerEngine?: Exclude<TrainerEngine, 'onnx'>;
  /**
   * orchestration.fusedStep, present only when true: a step's reference log-probs, scoring, update and
   * checkpoint run as one trainStep activity on the trainer. Absent in plans made before the field existed.
   */
  fusedStep?: true;
  /** Newer checkpoints that failed verification and were skipped, with why. */
  rejected: { step: number; reason: string }[];
  /** Evaluate every `every` steps: `config` is the evaluation config but for its model (the step's checkpoint). */
  evaluation?: { every: number; config: Omit<EvaluationConfigInput, 'model'> };
}

export interface SampleRolloutsInput {
  config: RawRunConfig;
  /** The step being produced (1-based): the policy is the checkpoint of step − 1. */
  step: number;
  shard: number;
  cursor: Cursor;
  /**
   * Dynamic-sampling refill round (0 = the step's first prompts): round r samples the promptsPerStep
   * prompts after round r − 1's (its `cursor`), at prompt coordinates r·promptsPerStep + p, so every round
   * draws its own random numbers and a re-run draws the same ones.
   */
  round?: number;
}

export interface SampleRolloutsOutput {
  key: string;
  responses: number;
  meanResponseLength: number;
  /** The data cursor after this step's prompts (the same from every shard). */
  nextCursor: Cursor;
  /** Python snippets run for this shard's responses, how many ended in an error, and their wall time. */
  toolCalls: number;
  toolErrors: number;
  sandboxMs: number;
  /** Prompt tokens of this shard's responses (each response counts its prompt) and the longest response. */
  promptTokens: number;
  maxResponseLength: number;
  /** Wall seconds of this activity, on its own clock (timing metrics). */
  seconds: number;
  /** With refill on (rollout.maxRefillRounds > 0): this shard's groups that the task keeps. */
  groupsKept?: number;
}

export interface ScoreRolloutsInput {
  config: RawRunConfig;
  step: number;
  shardKeys: string[];
  /** Sampling rounds the shards cover (dynamic-sampling refill); absent = 1. */
  rounds?: number;
  /**
   * The step's reference log-probs, as referenceLogProbs stored them (a run with a KL term). Absent in
   * a step scheduled before that activity existed: scoreRollouts then computes them itself, on the CPU.
   */
  referenceKey?: string;
}

/** The step's shards, as scoreRollouts gets them: the reference policy scores the rows it will write. */
export type ReferenceLogProbsInput = Omit<ScoreRolloutsInput, 'referenceKey'>;

export interface ReferenceLogProbsOutput {
  /** JSON: one array per trained response (scoreRollouts' row order), its tokens' reference log-probs. */
  key: string;
  /** Wall seconds of this activity, on its own clock. */
  seconds: number;
}

export interface ScoreRolloutsOutput {
  key: string;
  meanTaskReward: number;
  meanReward: number;
  /** Fraction of responses the verifier judged correct. */
  accuracy: number;
  /** Fraction of responses that enter the loss (length strategies and group filters drop some). */
  keptFraction: number;
  /** Mean per-token KL(π_old ‖ π_ref) of the responses (0 when the run has no KL term). */
  klToReference: number;
  /** Fraction of responses that finished before rollout.maxNewTokens. */
  completionRatio: number;
  /** reinforceBaseline: the running baseline after this step (the checkpoint records it). */
  baseline?: { value: number; count: number };
  /** Wall seconds of this activity, on its own clock. */
  seconds: number;
  /** A refilled step: the groups with signal over all its rounds (the batch takes promptsPerStep). */
  groupsWithSignal?: number;
  /** algorithm.recomputeOldLogprobs: mean and largest |sampler − recomputed| log-prob of sampled tokens. */
  oldLogprobDiffMean?: number;
  oldLogprobDiffMax?: number;
}

export interface UpdatePolicyInput {
  /** The step's config: the run's, with the step's hyper-parameter overrides written in. */
  config: RawRunConfig;
  /** The run's identity (prepareRun's configHash), which overrides leave alone: the warm state's key. */
  configHash: string;
  step: number;
  scoredKey: string;
}

export interface StoredObject {
  name: string;
  size: number;
  sha256: string;
}

export interface UpdatePolicyOutput {
  /** The new weights and optimizer state, written under the step's checkpoint prefix (no manifest yet). */
  objects: StoredObject[];
  metrics: Record<string, number>;
  /** True when the trainer had to reload the previous state from the store (no warm copy in memory). */
  reloaded: boolean;
  /** Wall seconds of this activity, on its own clock. */
  seconds: number;
}

export interface CheckpointInput {
  config: RawRunConfig;
  step: number;
  objects: StoredObject[];
  cursor: Cursor;
  metrics: Record<string, number>;
}

export interface CheckpointOutput {
  step: number;
  weightsSha256: string;
  /** Wall seconds of this activity (also in the step's metrics log as `timing/checkpoint`). */
  seconds: number;
}

/** A whole step after sampling, on the trainer (orchestration.fusedStep): what the workflow would pass apart. */
export interface TrainStepInput {
  /** The step's config (overrides written in): what the reference, scoring and update compute with. */
  config: RawRunConfig;
  /** The run's config as given, which the checkpoint records (as checkpoint's own `config`). */
  runConfig: RawRunConfig;
  /** The run's identity (prepareRun's configHash): the warm state's key. */
  configHash: string;
  step: number;
  /** The step's sampling shards, every round, in order: their keys and summaries (for the metrics). */
  shards: SampleRolloutsOutput[];
  /** Sampling rounds the shards cover (dynamic-sampling refill); absent = 1. */
  rounds?: number;
  /** The run has a KL term: the reference's log-probs first (RunPlan.referenceLogProbs). */
  referenceLogProbs: boolean;
  /** The run refills (rollout.maxRefillRounds > 0): the metrics record the refill counts. */
  refill: boolean;
  /** The data cursor after the step, which the checkpoint records. */
  cursor: Cursor;
  /** Metrics the checkpoint records beside the step's own (the hyper-parameter overrides in force). */
  extraMetrics: Record<string, number>;
}

export interface TrainStepOutput {
  /** The step's metrics (without extraMetrics), as the separate activities' workflow assembles them. */
  metrics: Record<string, number>;
  checkpoint: CheckpointOutput;
}
