/**
 * `sampleProblemGroups` (sharedGenerator.ts) for a model served on an OpenAI-compatible endpoint: the same
 * requests, RNG coordinates and tool turns, sent through core/serve's endpoint sampler, with a heartbeat
 * between groups of problems.
 */
import { heartbeat } from '@temporalio/activity';
import type { Generation, GenerationRequest } from '../core/generate/generation.ts';
import { generateFromEndpoint, type Endpoint } from '../core/serve/endpointSampler.ts';
import type { TaskRuntime } from '../core/task/types.ts';
import type { ToolMetrics } from '../core/tools/metrics.ts';
import type { ProblemSampling } from './sharedGenerator.ts';

/** Problems per round of requests: a heartbeat goes out between rounds. */
const PROBLEMS_PER_ROUND = 16;

export async function sampleEndpointGroups(
  endpoint: Endpoint,
  task: TaskRuntime,
  range: { first: number; end: number },
  sampling: ProblemSampling,
  seed: number,
  tools: ToolMetrics,
  onGroup: (problem: number, group: Generation[]) => void,
): Promise<void> {
  for (let first = range.first; first < range.end; first += PROBLEMS_PER_ROUND) {
    heartbeat({ problem: first });
    const requests: GenerationRequest[] = [];
    for (let p = first; p < Math.min(range.end, first + PROBLEMS_PER_ROUND); p++) {
      for (let k = 0; k < sampling.samples; k++)
        requests.push({ promptIds: task.promptIds(p), prompt: p, sample: k });
    }
    const outs = await generateFromEndpoint(endpoint, requests, {
      maxNewTokens: sampling.maxNewTokens,
      sampling: { temperature: sampling.temperature, topP: sampling.topP, topK: sampling.topK },
      seed,
      stopTokenIds: task.stopTokenIds,
      ...(await task.generation(tools)),
    });
    for (let start = 0; start < outs.length; start += sampling.samples)
      onGroup(requests[start].prompt, outs.slice(start, start + sampling.samples));
  }
}
