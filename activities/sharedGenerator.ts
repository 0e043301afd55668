/**
 * One Generator per model architecture, thread count, device, weight precision and LoRA spec in a worker
 * process: evaluations and difficulty filter shards take turns swapping their weights into it (the same
 * policy again keeps its session), so a worker compiles the decode graph once
 * per architecture rather than once per activity; `sampleProblemGroups` is the sampling loop both share.
 */
import { heartbeat } from '@temporalio/activity';
import type { Generation, GenerationRequest } from '../core/generate/generation.ts';
import { Generator } from '../core/generate/generator.ts';
import type { ToolMetrics } from '../core/tools/metrics.ts';
import type { TaskRuntime } from '../core/task/types.ts';
import type { Qwen2Config } from '../core/model/config.ts';
import type { CheckpointPolicy, SourcePolicy } from './checkpointPolicy.ts';
import { deviceKey } from '../core/graph/device.ts';
import type { WeightDtype } from '../core/model/weightDtype.ts';
import { memo, type ActivitySession } from './runtime.ts';

const generators = new Map<string, Promise<{ generator: Generator; lock: Promise<unknown> }>>();

export async function withSharedGenerator<T>(
  config: Qwen2Config,
  policy: CheckpointPolicy,
  settings: ActivitySession & { weightDtype?: WeightDtype },
  use: (g: Generator) => Promise<T>,
): Promise<T> {
  const { intraOpThreads, device, weightDtype = 'float32' } = settings;
  const lora = policy.lora?.spec;
  const key = JSON.stringify([config, intraOpThreads, deviceKey(device), weightDtype, lora ?? null]);
  const slot = await memo(generators, key, async () => ({
    generator: await Generator.create(
      config,
      policy.weights,
      { intraOpThreads, device, weightDtype, lora },
      policy.lora?.adapters,
    ),
    lock: Promise.resolve() as Promise<unknown>,
  }));
  const turn = slot.lock.then(() => {
    slot.generator.setWeights(policy.weights, policy.lora?.adapters);
    return use(slot.generator);
  });
  slot.lock = turn.catch(() => undefined);
  return turn;
}

/** Problems per generate call: a heartbeat goes out between calls. */
const PROBLEMS_PER_CALL = 16;

export interface ProblemSampling {
  samples: number;
  maxNewTokens: number;
  temperature: number;
  topP?: number;
  topK?: number;
  weightDtype?: WeightDtype;
}

/**
 * `sampling.samples` responses to each problem of [first, end) on the shared generator, PROBLEMS_PER_CALL
 * problems per generate call with a heartbeat before each; `onGroup` gets each problem's responses in order.
 * Draws are keyed by (seed, problem, sample), so the result does not depend on how problems are grouped.
 */
export async function sampleProblemGroups(
  model: SourcePolicy,
  session: ActivitySession,
  task: TaskRuntime,
  range: { first: number; end: number },
  sampling: ProblemSampling,
  seed: number,
  tools: ToolMetrics,
  onGroup: (problem: number, group: Generation[]) => void,
): Promise<void> {
  const settings = { ...session, weightDtype: sampling.weightDtype };
  await withSharedGenerator(model.model.config, model.policy, settings, async (generator) => {
    for (let first = range.first; first < range.end; first += PROBLEMS_PER_CALL) {
      heartbeat({ problem: first });
      const requests: GenerationRequest[] = [];
      for (let p = first; p < Math.min(range.end, first + PROBLEMS_PER_CALL); p++) {
        for (let k = 0; k < sampling.samples; k++)
          requests.push({ promptIds: task.promptIds(p), prompt: p, sample: k });
      }
      const outs = await generator.generate(requests, {
        maxNewTokens: sampling.maxNewTokens,
        sampling: { temperature: sampling.temperature, topP: sampling.topP, topK: sampling.topK },
        seed,
        stopTokenIds: task.stopTokenIds,
        ...(await task.generation(tools)),
      });
      for (let start = 0; start < outs.length; start += sampling.samples)
        onGroup(requests[start].prompt, outs.slice(start, start + sampling.samples));
    }
  });
}
