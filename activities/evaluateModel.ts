/**
 * evaluateModel: one model on one task's problems — greedy or sampled responses, verified and scored by
 * the task, written to the store as records plus a summary; the summary is returned. Keyed by the model's
 * identity (a run's checkpoint step, or the source): a summary already in the store is returned as is, so
 * a retried or re-scheduled evaluation of the same checkpoint does no work twice.
 */
import { parseEvaluationConfig, type EvaluationConfig } from '../core/config/evaluation.ts';
import type { MathTask } from '../core/config/task.ts';
import type { QwenModelDir } from '../core/model/modelDir.ts';
import type { EvaluationProtocol, EvaluationRecord, EvaluationSummary } from '../core/metrics/evaluation.ts';
import { sampledEvaluationMetrics } from '../core/metrics/sampledEvaluation.ts';
import { mulberry32 } from '../core/random.ts';
import { extractAnswer } from '../core/reward/verify/extract.ts';
import { emptyToolMetrics, type ToolMetrics } from '../core/tools/metrics.ts';
import { configHash, latestVerifiedCheckpoint, padStep } from '../core/store/index.ts';
import { FAILURE, permanent } from './failures.ts';
import { parsedConfig } from './parsedConfig.ts';
import { runStore, sessionConfig } from './runtime.ts';
import { sourcePolicy, type SourcePolicy } from './checkpointPolicy.ts';
import { modelTask } from './modelTask.ts';
import type { Held } from './policyFiles.ts';
import { weightUse } from './policyFiles.ts';
import type { TaskRuntime } from '../core/task/types.ts';
import { sampleEndpointGroups } from './endpointSampling.ts';
import { sampleProblemGroups } from './sharedGenerator.ts';
import type { Generation } from '../core/generate/generation.ts';
import { loadModelDirFiles } from '../core/model/modelDir.ts';
import { requireDeviceKind } from './workerDevice.ts';

/** Hex digits of the settings hash in a result folder's name (48 bits: collisions are not a concern). */
const SETTINGS_HASH_CHARS = 12;

/** Resolves "the newest checkpoint" to a step, so the result names exactly what was evaluated. */
async function resolveModel(config: EvaluationConfig): Promise<{ tag: string; step?: number; dir: string }> {
  const { init, dir, checkpoint, endpoint } = config.model;
  if (init) return { tag: `init:${init.seed}`, dir: `init-${init.seed}` };
  if (endpoint)
    return {
      tag: `endpoint:${endpoint.model}@${endpoint.url}`,
      dir: `endpoint-${endpoint.model.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-64)}`,
    };
  if (dir) return { tag: `dir:${dir}`, dir: `dir-${dir.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-64)}` }; // the settings hash tells apart paths that read alike here
  let step = checkpoint!.step;
  if (step === undefined) {
    const latest = await latestVerifiedCheckpoint(runStore(config), checkpoint!.runId);
    if (!latest.manifest) {
      throw permanent(
        FAILURE.config,
        `model.checkpoint: run ${checkpoint!.runId} has no verified checkpoint yet`,
      );
    }
    step = latest.manifest.step;
  }
  return {
    tag: `checkpoint:${checkpoint!.runId}@${step}`,
    step,
    dir: `${checkpoint!.runId}/${padStep(step)}`,
  };
}

/**
 * The evaluated model's files and, unless a server samples it, its policy: the worker's one "evaluate"
 * weight set (checkpointPolicy.ts), mapped from its files where it can be, held until the caller's release.
 */
async function evaluatedModel(
  config: EvaluationConfig,
  step: number | undefined,
): Promise<Held<{ model: Omit<QwenModelDir, 'weights'>; policy?: SourcePolicy['policy'] }>> {
  const { checkpoint, endpoint, init, dir } = config.model;
  if (endpoint) {
    try {
      return { model: loadModelDirFiles(endpoint.tokenizer), release: () => undefined };
    } catch (error) {
      throw permanent(FAILURE.config, `model.endpoint.tokenizer: ${(error as Error).message}`);
    }
  }
  const source = checkpoint ? { checkpoint: { runId: checkpoint.runId, step: step! } } : { init, dir };
  const device = requireDeviceKind(config.orchestration.device, 'evaluation.orchestration.device');
  const use = weightUse(device, config.sampling.weightDtype);
  return sourcePolicy('evaluate', { model: source, store: config.store }, use);
}

export function summarize(
  records: readonly EvaluationRecord[],
  problems: number,
): Omit<
  EvaluationSummary,
  'evalId' | 'model' | 'step' | 'key' | 'samples' | 'toolCallsPerResponse' | 'toolErrors' | 'sandboxSeconds'
> {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const solved = new Set(records.filter((r) => r.correct).map((r) => r.problem));
  const meanLength = mean(records.map((r) => r.tokens));
  return {
    problems,
    accuracy: mean(records.map((r) => Number(r.correct))),
    passAtK: solved.size / Math.max(1, problems),
    meanLength,
    lengthStd: Math.sqrt(mean(records.map((r) => (r.tokens - meanLength) ** 2))),
    completionRatio: mean(records.map((r) => Number(r.finishReason !== 'length'))),
    meanReward: mean(records.map((r) => r.reward)),
  };
}

/** The answer a response votes for in maj@k: math's extracted final answer, a token task's whole text. */
function voteOf(config: EvaluationConfig, text: string): { answer?: string } {
  const answer =
    config.task.kind === 'math' ? extractAnswer(text)?.text.replace(/\s+/g, ' ').trim() : text.trim();
  return answer ? { answer } : {};
}

function dataName(data: MathTask['data']): string {
  switch (data.source) {
    case 'benchmark':
      return data.name;
    case 'file':
      return `file:${data.path}`;
    case 'store':
      return `store:${data.key}`;
    case 'synthetic':
      return `synthetic:${data.task.kind}`;
  }
}

function protocolOf(config: EvaluationConfig, problems: number): EvaluationProtocol {
  const { task, sampling } = config;
  const benchmark = task.kind === 'math' ? dataName(task.data) : 'reverseDigits';
  return {
    benchmark,
    problems,
    n: sampling.samples,
    temperature: sampling.temperature,
    ...(sampling.topP !== undefined ? { topP: sampling.topP } : {}),
    ...(sampling.topK !== undefined ? { topK: sampling.topK } : {}),
    maxNewTokens: sampling.maxNewTokens,
    ...(task.kind === 'math' ? { prompt: task.prompt.template } : {}),
    seed: config.seed,
  };
}

async function generateAndScore(
  config: EvaluationConfig,
  { model, policy }: { model: Omit<QwenModelDir, 'weights'>; policy?: SourcePolicy['policy'] },
  task: TaskRuntime,
  count: number,
  tools: ToolMetrics,
): Promise<EvaluationRecord[]> {
  const { sampling } = config;
  const records: EvaluationRecord[] = [];
  const range = { first: 0, end: count };
  const onGroup = (problem: number, group: Generation[]) => {
    const scores = task.scoreGroup(problem, group);
    group.forEach((o, k) =>
      records.push({
        problem,
        sample: k,
        text: task.responseText(o.tokens),
        tokens: o.tokens.length,
        finishReason: o.finishReason,
        correct: scores.correct[k],
        reward: scores.rewards[k],
        ...voteOf(config, task.responseText(o.tokens)),
      }),
    );
  };
  const endpoint = config.model.endpoint;
  if (endpoint) {
    await sampleEndpointGroups(endpoint, task, range, sampling, config.seed, tools, onGroup);
    return records;
  }
  const device = requireDeviceKind(config.orchestration.device, 'evaluation.orchestration.device');
  await sampleProblemGroups(
    { model, policy: policy! },
    sessionConfig(config, device),
    task,
    range,
    sampling,
    config.seed,
    tools,
    onGroup,
  );
  return records;
}

export async function evaluateModel(raw: unknown): Promise<EvaluationSummary> {
  const config = parsedConfig(parseEvaluationConfig, raw);
  const store = runStore(config);
  const resolved = await resolveModel(config);
  // The folder names what was evaluated and how: a different model, task or sampling never reuses results.
  const settings = configHash({
    model: resolved.tag,
    init: config.model.init,
    task: config.task,
    sampling: config.sampling,
    limit: config.limit,
    seed: config.seed,
  }).slice(0, SETTINGS_HASH_CHARS);
  const prefix = `evals/${config.evalId}/${resolved.dir}/${settings}/`;
  const summaryKey = `${prefix}summary.json`;
  if (await store.head(summaryKey)) {
    return JSON.parse(new TextDecoder().decode(await store.get(summaryKey))) as EvaluationSummary;
  }
  const evaluated = await evaluatedModel(config, resolved.step);
  const tools = emptyToolMetrics();
  let count: number;
  let records: EvaluationRecord[];
  try {
    const task = await modelTask(config.task, evaluated.model);
    count = Math.min(task.size, config.limit ?? task.size);
    records = await generateAndScore(config, evaluated, task, count, tools);
  } finally {
    evaluated.release();
  }
  const key = `${prefix}records.json`;
  await store.put(key, new TextEncoder().encode(JSON.stringify(records)));
  const summary: EvaluationSummary = {
    evalId: config.evalId,
    model: resolved.tag,
    ...(resolved.step !== undefined ? { step: resolved.step } : {}),
    samples: config.sampling.samples,
    ...summarize(records, count),
    toolCallsPerResponse: tools.toolCalls / Math.max(1, records.length),
    toolErrors: tools.toolErrors,
    sandboxSeconds: tools.sandboxMs / 1000,
    key,
    metrics: sampledEvaluationMetrics(records, count, config.sampling.samples, () => mulberry32(config.seed)),
    protocol: protocolOf(config, count),
  };
  // The summary last: its presence means the records are complete.
  await store.put(summaryKey, new TextEncoder().encode(JSON.stringify(summary)));
  return summary;
}
