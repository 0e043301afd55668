/**
 * `sampleProblemGroups` (sharedGenerator.ts) for a model served on an OpenAI-compatible endpoint: the same
 * requests, RNG coordinates and tool turns (problemRounds.ts), sent through core/serve's endpoint sampler.
 */
import type { Generation } from '../core/generate/generation.ts';
import { generateFromEndpoint, type Endpoint } from '../core/serve/endpointSampler.ts';
import type { TaskRuntime } from '../core/task/types.ts';
import type { ToolMetrics } from '../core/tools/metrics.ts';
import { sampleProblemRounds, type ProblemSampling } from './problemRounds.ts';

export async function sampleEndpointGroups(
  endpoint: Endpoint,
  task: TaskRuntime,
  range: { first: number; end: number },
  sampling: ProblemSampling,
  seed: number,
  tools: ToolMetrics,
  onGroup: (problem: number, group: Generation[]) => void,
): Promise<void> {
  await sampleProblemRounds(
    (requests, opts) => generateFromEndpoint(endpoint, requests, opts),
    task,
    range,
    sampling,
    seed,
    tools,
    onGroup,
  );
}
