/**
 * The sampling loop of evaluations and difficulty filter shards, whatever generates the responses: the
 * shared in-process Generator (sharedGenerator.ts) or an OpenAI-compatible endpoint (endpointSampling.ts).
 */
import { heartbeat } from '@temporalio/activity';
import type { GenerateOptions, Generation, GenerationRequest } from '../core/generate/generation.ts';
import type { TaskRuntime } from '../core/task/types.ts';
import type { ToolMetrics } from '../core/tools/metrics.ts';
import type { WeightDtype } from '../core/model/weightDtype.ts';

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

/** A Generator's `generate`, or its stand-in on an endpoint. */
export type GenerateCall = (requests: GenerationRequest[], opts: GenerateOptions) => Promise<Generation[]>;

/**
 * `sampling.samples` responses to each problem of [first, end), PROBLEMS_PER_CALL problems per `generate`
 * call with a heartbeat before each; `onGroup` gets each problem's responses in order. Draws are keyed by
 * (seed, problem, sample), so the result does not depend on how problems are grouped.
 */
export async function sampleProblemRounds(
  generate: GenerateCall,
  task: TaskRuntime,
  range: { first: number; end: number },
  sampling: ProblemSampling,
  seed: number,
  tools: ToolMetrics,
  onGroup: (problem: number, group: Generation[]) => void,
): Promise<void> {
  for (let first = range.first; first < range.end; first += PROBLEMS_PER_CALL) {
    heartbeat({ problem: first });
    const requests: GenerationRequest[] = [];
    for (let p = first; p < Math.min(range.end, first + PROBLEMS_PER_CALL); p++) {
      for (let k = 0; k < sampling.samples; k++)
        requests.push({ promptIds: task.promptIds(p), prompt: p, sample: k });
    }
    const outs = await generate(requests, {
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
