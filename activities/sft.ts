/**
 * SFT activities. prepareSft validates the config and finds where the run stands (writing the step-0
 * checkpoint of a new one); sftSteps runs optimizer steps fromStep+1 … toStep on the trainer and commits
 * the checkpoint of toStep (objects, then the manifest). Every batch is a function of (seed, data cursor),
 * so a retried or resumed chunk produces the same weights; the trainer keeps the newest state in memory
 * and reloads it from the store when it does not hold the state of fromStep.
 */
import { heartbeat } from '@temporalio/activity';
import { sftQueues } from '../client/gpuWorkers.ts';
import { writeStepMetrics, type StepMetrics } from '../core/metrics/history.ts';
import { parseSftConfig, sftIdentity, type SftConfig } from '../core/config/sft.ts';
import { loadSolutions, type SolutionExample } from '../core/data/solutions.ts';
import { takeBatch } from '../core/data/cursor.ts';
import { deviceTaskQueue } from '../core/config/taskQueues.ts';
import { arithmeticToolTrace, arithmeticTrace, carelessTeacher } from '../core/data/traces.ts';
import { DEFAULT_HABIT_RATES, habitTrace } from '../core/data/habitTraces.ts';
import type { SyntheticProblem } from '../core/data/synthetic.ts';
import type { OptimizerState } from '../core/graph/index.ts';
import type { QwenModelDir } from '../core/model/modelDir.ts';
import { QwenTokenizer } from '../core/model/tokenizer.ts';
import { lrAt } from '../core/rl/lrSchedule.ts';
import { SftUpdater } from '../core/train/sftUpdate.ts';
import type { SftRow } from '../core/train/sftLossGraph.ts';
import { applyRetention, configHash, writeCheckpoint } from '../core/store/index.ts';
import { loadTaskProblems } from '../core/data/splits.ts';
import { weightsSha256 } from './checkpoint.ts';
import { FAILURE, permanent } from './failures.ts';
import { checkGpuWorkersFromActivity } from './gpuWorkers.ts';
import { parsedConfig } from './parsedConfig.ts';
import { resumePoint } from './resumePoint.ts';
import { memo, runStore, sessionConfig, verifiedManifest } from './runtime.ts';
import { requireDeviceKind } from './workerDevice.ts';
import { deviceKey } from '../core/graph/device.ts';
import { mathPromptIds } from '../core/task/prompts.ts';
import { mathStopTokenIds } from '../core/task/stops.ts';
import { readCheckpointState, withStateFiles } from './trainerState.ts';
import type { Cursor } from './types.ts';
import { probeRunStore } from './storeProbe.ts';

export interface SftPlan {
  runId: string;
  totalSteps: number;
  checkpointStep: number;
  checkpointEvery: number;
  cursor: Cursor;
  heartbeatTimeoutSeconds: number;
  trainerQueue: string;
  continueAsNewEvery: number;
}

export interface SftStepsInput {
  config: unknown;
  fromStep: number;
  toStep: number;
  cursor: Cursor;
}

export interface SftStepsOutput {
  step: number;
  cursor: Cursor;
  weightsSha256: string;
  /** Mean over the chunk's steps, and the last step's values. */
  metrics: Record<string, number>;
  reloaded: boolean;
}

export function sftConfigHash(config: SftConfig): string {
  return configHash(sftIdentity(config));
}

export async function prepareSft(raw: unknown): Promise<SftPlan> {
  const config = parsedConfig(parseSftConfig, raw);
  const store = runStore(config);
  await probeRunStore(store, 'sft.store.url', config.store.url);
  await checkGpuWorkersFromActivity(sftQueues(config));
  const hash = sftConfigHash(config);
  // A new run's examples load before step 0 is written, so bad data leaves no checkpoint behind.
  const { manifest } = await resumePoint(store, config, hash, 'steps', () =>
    sftExamples(config).then(() => undefined),
  );
  return {
    runId: config.runId,
    totalSteps: config.steps,
    checkpointStep: manifest.step,
    checkpointEvery: config.sft.checkpointEvery,
    cursor: manifest.dataCursor as unknown as Cursor,
    heartbeatTimeoutSeconds: config.orchestration.heartbeatTimeoutSeconds,
    trainerQueue: deviceTaskQueue(
      config.orchestration.taskQueues.trainer,
      config.orchestration.devices.trainer,
    ),
    continueAsNewEvery: config.orchestration.continueAsNewEvery,
  };
}

/**
 * A file's problem and worked solution as one SFT row: the prompt through the task's template, then the
 * solution as written + EOS as the target (TRL SFTTrainer's prompt/completion rows, loss on the completion).
 */
export function solutionRow(
  config: SftConfig,
  tokenizer: QwenTokenizer,
  eos: number,
  example: SolutionExample,
): SftRow {
  return {
    promptIds: mathPromptIds(config.task, tokenizer, example.problem),
    responseIds: [...tokenizer.encode(example.solution), eos],
  };
}

/** A problem and its worked solution as one SFT row: prompt, then trace + EOS as the target. */
export function traceRow(
  config: SftConfig,
  tokenizer: QwenTokenizer,
  eos: number,
  problem: SyntheticProblem,
  index: number,
): SftRow {
  const promptIds = mathPromptIds(config.task, tokenizer, problem.problem);
  if (config.task.tools) {
    // Encoded segment by segment, as generation inserts the output block: the same token boundaries.
    const t = arithmeticToolTrace(problem);
    const [before, inserted, after] = [t.before, t.inserted, t.after].map((x) => tokenizer.encode(x));
    const responseIds = [...before, ...inserted, ...after, eos];
    const learn = (n: number, yes: boolean) => new Array<boolean>(n).fill(yes);
    return {
      promptIds,
      responseIds,
      lossMask: [
        ...learn(before.length, true),
        ...learn(inserted.length, !config.sft.maskToolOutput),
        ...learn(after.length + 1, true),
      ],
    };
  }
  const { data } = config.task;
  if (data.source === 'synthetic' && data.task.kind === 'longAddition') {
    const trace = habitTrace(problem, config.seed, index, config.sft.habits ?? DEFAULT_HABIT_RATES);
    return { promptIds, responseIds: [...tokenizer.encode(trace.text), eos] };
  }
  const forgetCarry = carelessTeacher(config.seed, index, config.sft.traceErrorRate);
  return {
    promptIds,
    responseIds: [...tokenizer.encode(arithmeticTrace(problem, { forgetCarry })), eos],
  };
}

interface SftWarm {
  hash: string;
  step: number;
  state: OptimizerState;
  base: Omit<QwenModelDir, 'weights'>;
}
let warm: SftWarm | undefined;
const updaters = new Map<string, Promise<SftUpdater>>();
/** The SFT examples: synthetic problems (their traces are generated) or a file's worked solutions. */
type SftExamples =
  | { kind: 'traces'; problems: SyntheticProblem[] }
  | { kind: 'solutions'; examples: SolutionExample[]; skippedRows: number };
const exampleSets = new Map<string, Promise<SftExamples>>();

function sftExamples(config: SftConfig): Promise<SftExamples> {
  const data = config.sft.solutions;
  return memo(exampleSets, JSON.stringify(data ?? config.task.data), async () => {
    if (!data) return { kind: 'traces', problems: (await loadTaskProblems(config.task.data)).problems };
    let loaded;
    try {
      loaded = await loadSolutions(data);
    } catch (error) {
      throw permanent(FAILURE.data, `sft.solutions: ${(error as Error).message}`);
    }
    if (loaded.examples.length === 0) {
      const why = loaded.skipped.reasons.join('; ');
      throw permanent(FAILURE.data, `sft.solutions ${data.path}: no usable rows${why ? ` (${why})` : ''}`);
    }
    return { kind: 'solutions', examples: loaded.examples, skippedRows: loaded.skipped.count };
  });
}

async function sftStateAt(
  config: SftConfig,
  hash: string,
  step: number,
): Promise<{ w: SftWarm; reloaded: boolean }> {
  if (warm && warm.hash === hash && warm.step === step) return { w: warm, reloaded: false };
  warm = undefined; // dropped before the checkpoint's state is read: never two states at once
  const store = runStore(config);
  // readCheckpointState checks every object's sha256 as it streams it: one download, not two.
  const manifest = await verifiedManifest(store, config.runId, step, { contents: false });
  const { model, state } = await readCheckpointState(store, manifest);
  const { weights: _weights, ...base } = model;
  return { w: { hash, step, state, base }, reloaded: true };
}

export async function sftSteps(input: SftStepsInput): Promise<SftStepsOutput> {
  const config = parsedConfig(parseSftConfig, input.config);
  if (!(input.fromStep >= 0 && input.toStep > input.fromStep && input.toStep <= config.steps)) {
    throw permanent(
      FAILURE.config,
      `sftSteps: steps ${input.fromStep} → ${input.toStep} are not a chunk of a ${config.steps}-step run`,
    );
  }
  const hash = sftConfigHash(config);
  const store = runStore(config);
  const { w, reloaded } = await sftStateAt(config, hash, input.fromStep);
  // The updates overwrite the state's arrays in place: until the chunk is checkpointed it is no step's.
  warm = undefined;
  if (!w.base.tokenizer) throw permanent(FAILURE.config, 'sft: the model has no tokenizer');
  const tokenizer = new QwenTokenizer(w.base.tokenizer);
  const [eos] = mathStopTokenIds(tokenizer, w.base.config.eosTokenId);
  const examples = await sftExamples(config);
  const size = examples.kind === 'traces' ? examples.problems.length : examples.examples.length;
  const rowOf = (i: number) =>
    examples.kind === 'traces'
      ? traceRow(config, tokenizer, eos, examples.problems[i], i)
      : solutionRow(config, tokenizer, eos, examples.examples[i]);
  const { sft } = config;
  const device = requireDeviceKind(config.orchestration.devices.trainer, 'sft.orchestration.devices.trainer');
  const updater = await memo(
    updaters,
    JSON.stringify([w.base.config, sft, config.orchestration.intraOpThreads, deviceKey(device)]),
    () =>
      SftUpdater.create(
        w.base.config,
        {
          microBatchSize: sft.microBatchSize,
          logProbChunkTokens: sft.logProbChunkTokens,
          gradientCheckpointing: sft.gradientCheckpointing,
          optimizer: {
            betas: sft.optimizer.betas,
            eps: sft.optimizer.eps,
            weightDecay: sft.optimizer.weightDecay,
            maxGradNorm: sft.optimizer.maxGradNorm,
          },
        },
        sessionConfig(config, device),
      ),
  );
  const schedule = {
    schedule: sft.optimizer.schedule,
    lr: sft.optimizer.lr,
    warmupSteps: sft.optimizer.warmupSteps,
    totalSteps: sft.optimizer.decaySteps ?? config.steps,
    minLrRatio: sft.optimizer.minLrRatio,
  };
  let state = w.state;
  let cursor: Cursor = input.cursor;
  const sums: Record<string, number> = {};
  let last: Record<string, number> = {};
  const perStep: StepMetrics[] = [];
  for (let step = input.fromStep + 1; step <= input.toStep; step++) {
    const { indices, next } = takeBatch(cursor, size, sft.batchSize);
    const rows = indices.map(rowOf);
    const out = await updater.update(state, rows, { lr: lrAt(step - 1, schedule) });
    state = out.state;
    cursor = next;
    last = { ...out.metrics };
    perStep.push({ step, metrics: last });
    for (const [k, v] of Object.entries(out.metrics)) sums[k] = (sums[k] ?? 0) + v;
    heartbeat({ step });
  }
  const chunk = input.toStep - input.fromStep;
  const metrics: Record<string, number> = { lastLoss: last.loss, lr: last.lr, gradNorm: last.gradNorm };
  metrics.loss = sums.loss / chunk;
  metrics.tokensPerStep = sums.tokens / chunk;
  // Bad rows of a solutions file are reported with every chunk (the status query shows them).
  if (examples.kind === 'solutions') metrics.skippedRows = examples.skippedRows;
  await writeStepMetrics(store, config.runId, input.toStep, perStep);
  await withStateFiles(w.base, state, (objects) =>
    writeCheckpoint(store, {
      runId: config.runId,
      step: input.toStep,
      configHash: hash,
      dataCursor: { ...cursor },
      rng: { seed: config.seed },
      metrics,
      objects,
    }),
  );
  warm = { hash, step: input.toStep, state, base: w.base };
  await applyRetention(store, config.runId, config.store.retention);
  const manifest = await verifiedManifest(store, config.runId, input.toStep);
  return {
    step: input.toStep,
    cursor,
    weightsSha256: weightsSha256(manifest.objects) ?? '',
    metrics,
    reloaded,
  };
}
