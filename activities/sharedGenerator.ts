/**
 * One Generator per model architecture, thread count, device, weight precision and LoRA spec in a worker
 * process: evaluations and difficulty filter shards take turns swapping their weights into it (the same
 * policy again keeps its session), so a worker compiles the decode graph once
 * per architecture rather than once per activity; `sampleProblemGroups` samples problems on it.
 */
import type { Generation } from '../core/generate/generation.ts';
import { Generator } from '../core/generate/generator.ts';
import type { ToolMetrics } from '../core/tools/metrics.ts';
import type { TaskRuntime } from '../core/task/types.ts';
import type { Qwen2Config } from '../core/model/config.ts';
import type { CheckpointPolicy, SourcePolicy } from './checkpointPolicy.ts';
import { deviceKey } from '../core/graph/device.ts';
import type { WeightDtype } from '../core/model/weightDtype.ts';
import { memo, type ActivitySession } from './runtime.ts';
import { sampleProblemRounds, type ProblemSampling } from './problemRounds.ts';

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

/**
 * `sampling.samples` responses to each problem of [first, end) on the shared generator (problemRounds.ts);
 * `onGroup` gets each problem's responses in order.
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
  await withSharedGenerator(model.model.config, model.policy, settings, (generator) =>
    sampleProblemRounds(
      (requests, opts) => generator.generate(requests, opts),
      task,
      range,
      sampling,
      seed,
      tools,
      onGroup,
    ),
  );
}
