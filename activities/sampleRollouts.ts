/**
 * sampleRollouts: one shard of a step's prompts × n responses from the policy of the previous checkpoint,
 * with the sampler's per-token log-probs, written to the store as JSON. Every draw is keyed by
 * (seed, step, prompt, sample, position), so a retried or re-sharded attempt writes identical bytes.
 */
import { Context, heartbeat } from '@temporalio/activity';
import { takeBatch } from '../core/data/cursor.ts';
import { emptyToolMetrics } from '../core/tools/metrics.ts';
import type { GenerateOptions, Generation, GenerationRequest } from '../core/generate/generation.ts';
import { Generator } from '../core/generate/generator.ts';
import { parseRunConfig, type RunConfig } from '../core/config/run.ts';
import type { Qwen2Config } from '../core/model/config.ts';
import { generateOnServers, syncRolloutServers } from './endpointRollouts.ts';
import { parsedConfig } from './parsedConfig.ts';
import { memo, modelConfig, rolloutKey, runStore, runTask, sessionConfig } from './runtime.ts';
import { checkpointPolicy, type CheckpointPolicy } from './checkpointPolicy.ts';
import { weightUse } from './policyFiles.ts';
import { requireDeviceKind } from './workerDevice.ts';
import { deviceKey } from '../core/graph/device.ts';
import type { SampleRolloutsInput, SampleRolloutsOutput } from './types.ts';
import type { TaskRuntime } from '../core/task/types.ts';

/** One stored response. */
export interface RolloutRecord {
  /** Index of the problem in the task's dataset. */
  problem: number;
  /** Position of the prompt within the step (the RNG's prompt coordinate and the GRPO group). */
  prompt: number;
  sample: number;
  promptIds: number[];
  tokens: number[];
  logprobs: number[];
  sampled: boolean[];
  finishReason: string;
}

/** Prompts per generate call: a heartbeat goes out between calls. */
const PROMPTS_PER_HEARTBEAT = 8;

/**
 * One generator per (run, model, session settings), with the step whose weights it holds and a lock:
 * shards of a step that run in the same process take turns, because swapping weights may rebuild the
 * session and one session serves one batch at a time.
 */
interface PolicySampler {
  generator: Generator;
  weightsStep: number;
  lock: Promise<unknown>;
}
const samplers = new Map<string, Promise<PolicySampler>>();

/** Runs `use` when the sampler is free, holding the policy of checkpoint `step`. */
async function withPolicy<T>(
  sampler: PolicySampler,
  step: number,
  policy: CheckpointPolicy,
  use: (g: Generator) => Promise<T>,
): Promise<T> {
  const turn = sampler.lock.then(async () => {
    if (sampler.weightsStep !== step) {
      sampler.generator.setWeights(policy.weights, policy.lora?.adapters);
      sampler.weightsStep = step;
    }
    return use(sampler.generator);
  });
  sampler.lock = turn.catch(() => undefined);
  return turn;
}

/** The groups (records in prompt, sample order) the task keeps: what decides whether a step refills. */
function keptGroups(task: TaskRuntime, records: readonly RolloutRecord[]): number {
  let kept = 0;
  for (let start = 0; start < records.length;) {
    let end = start;
    while (end < records.length && records[end].prompt === records[start].prompt) end++;
    if (task.scoreGroup(records[start].problem, records.slice(start, end)).keep) kept++;
    start = end;
  }
  return kept;
}

/** The contiguous slice [begin, end) of the step's prompts that shard `shard` of `shards` samples. */
export function shardRange(prompts: number, shards: number, shard: number): [number, number] {
  return [Math.floor((shard * prompts) / shards), Math.floor(((shard + 1) * prompts) / shards)];
}

type Generate = (requests: GenerationRequest[], opts: GenerateOptions) => Promise<Generation[]>;

/** The shard sampled by this process's Generator, holding the policy of checkpoint `policyStep`. */
async function sampleInProcess(
  config: RunConfig,
  model: Qwen2Config,
  policyStep: number,
  sampleShard: (generate: Generate) => Promise<void>,
): Promise<void> {
  const store = runStore(config);
  const device = requireDeviceKind(config.orchestration.devices.rollout, 'run.orchestration.devices.rollout');
  const weightDtype = config.rollout.weightDtype ?? 'float32';
  const use = weightUse(device, weightDtype);
  const policy = await checkpointPolicy('sample', store, config.runId, policyStep, use);
  // The weights stay on disk until the last token is drawn, then go back to the role (policyFiles.ts).
  try {
    const sampler = await memo(
      samplers,
      JSON.stringify([config.runId, config.model, config.orchestration, deviceKey(device), weightDtype]),
      async () => ({
        generator: await Generator.create(
          model,
          policy.weights,
          { ...sessionConfig(config, device), weightDtype, lora: policy.lora?.spec },
          policy.lora?.adapters,
        ),
        weightsStep: policyStep,
        lock: Promise.resolve(),
      }),
    );
    await withPolicy(sampler, policyStep, policy, (generator) =>
      sampleShard((requests, opts) => generator.generate(requests, opts)),
    );
  } finally {
    policy.release();
  }
}

export async function sampleRollouts(input: SampleRolloutsInput): Promise<SampleRolloutsOutput> {
  const started = performance.now();
  const config = parsedConfig(parseRunConfig, input.config);
  const store = runStore(config);
  const model = await modelConfig(config);
  const task = await runTask(config);
  const { rollout } = config;
  const policyStep = input.step - 1;
  const { indices, next } = takeBatch(input.cursor, task.size, rollout.promptsPerStep);
  const [begin, end] = shardRange(rollout.promptsPerStep, rollout.shards, input.shard);
  const round = input.round ?? 0;
  const offset = round * rollout.promptsPerStep;
  const records: RolloutRecord[] = [];
  const tools = emptyToolMetrics();
  const sampleShard = async (generate: Generate) => {
    for (let first = begin; first < end; first += PROMPTS_PER_HEARTBEAT) {
      heartbeat({ prompt: first });
      const requests: GenerationRequest[] = [];
      for (let p = first; p < Math.min(end, first + PROMPTS_PER_HEARTBEAT); p++) {
        for (let k = 0; k < rollout.n; k++) {
          requests.push({ promptIds: task.promptIds(indices[p]), prompt: offset + p, sample: k });
        }
      }
      const outs = await generate(requests, {
        maxNewTokens: rollout.maxNewTokens,
        sampling: { temperature: rollout.temperature, topP: rollout.topP, topK: rollout.topK },
        seed: config.seed,
        step: policyStep,
        stopTokenIds: task.stopTokenIds,
        ...(await task.generation(tools)),
      });
      outs.forEach((o, i) =>
        records.push({
          problem: indices[requests[i].prompt - offset],
          prompt: requests[i].prompt,
          sample: requests[i].sample,
          promptIds: requests[i].promptIds,
          tokens: o.tokens,
          logprobs: o.logprobs,
          sampled: o.sampled,
          finishReason: o.finishReason,
        }),
      );
    }
  };
  const engine = rollout.engine;
  if (engine?.kind === 'openai') {
    // Never a token from stale weights: every server holds step − 1 (or the attempt fails) before any request.
    const live = await syncRolloutServers(engine, store, { run: config.runId, step: policyStep });
    const { cancellationSignal } = Context.current();
    await sampleShard((requests, opts) =>
      generateOnServers(engine, live, requests, opts, cancellationSignal),
    );
  } else {
    await sampleInProcess(config, model, policyStep, sampleShard);
  }
  const shardName = `${String(input.shard).padStart(4, '0')}.json`;
  const key = rolloutKey(
    config.runId,
    input.step,
    round === 0 ? `shard-${shardName}` : `shard-r${String(round).padStart(2, '0')}-${shardName}`,
  );
  await store.put(key, new TextEncoder().encode(JSON.stringify(records)));
  const tokens = records.reduce((n, r) => n + r.tokens.length, 0);
  return {
    key,
    responses: records.length,
    meanResponseLength: records.length ? tokens / records.length : 0,
    nextCursor: next,
    toolCalls: tools.toolCalls,
    toolErrors: tools.toolErrors,
    sandboxMs: tools.sandboxMs,
    promptTokens: records.reduce((n, r) => n + r.promptIds.length, 0),
    maxResponseLength: records.reduce((m, r) => Math.max(m, r.tokens.length), 0),
    seconds: (performance.now() - started) / 1000,
    ...((rollout.maxRefillRounds ?? 0) > 0 ? { groupsKept: keptGroups(task, records) } : {}),
  };
}
