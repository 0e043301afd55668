/** Our side of the rollout bench: the real `Generator` (core/generate) at a given intra-op thread count. */
import { Generator } from '../../core/generate/generator.ts';
import { CPU_DEVICE, type Device } from '../../core/graph/device.ts';
import type { Generation, GenerationRequest } from '../../core/generate/generation.ts';
import type { WeightDtype } from '../../core/model/qwen2.ts';
import type { RolloutSide, SideName } from './side.ts';
import { ROLLOUT, type RolloutWorkload } from './workload.ts';

export function rolloutRequests(prompts: readonly number[][]): GenerationRequest[] {
  return prompts.map((promptIds, prompt) => ({ promptIds, prompt, sample: 0 }));
}

export function rolloutOptions(seed: number) {
  return { maxNewTokens: ROLLOUT.maxNewTokens, sampling: { temperature: ROLLOUT.temperature }, seed };
}

/** Every row must have run the full length: a short row would make the figure meaningless. */
export function checkFullLength(out: readonly Generation[], side: string): void {
  for (const [b, g] of out.entries()) {
    if (g.tokens.length !== ROLLOUT.maxNewTokens)
      throw new Error(
        `${side}: row ${b} has ${g.tokens.length} new tokens, expected ${ROLLOUT.maxNewTokens}`,
      );
  }
}

export interface OurSide extends RolloutSide {
  /**
   * The latest run's seed, tokens (the instrumented copy of the loop must reproduce them) and generations
   * (compared with the default Generator's when our side runs other settings).
   */
  last?: { seed: number; tokens: number[][]; generations: Generation[] };
}

export async function createOurSide(
  workload: RolloutWorkload,
  threads: number,
  device: Device = CPU_DEVICE,
  /** Tokens per run on the in-graph path (undefined: the Generator's default for the device). */
  decodeChunk?: number,
  name: SideName = 'ours',
  weightDtype: WeightDtype = 'float32',
): Promise<OurSide> {
  const generator = await Generator.create(workload.config, workload.weights, {
    intraOpThreads: threads,
    device,
    weightDtype,
    ...(decodeChunk !== undefined ? { sampleInGraph: true, decodeChunk } : {}),
  });
  const requests = rolloutRequests(workload.prompts);
  const side: OurSide = {
    name,
    threads,
    async run(seed) {
      const start = performance.now();
      const out = await generator.generate(requests, rolloutOptions(seed));
      const seconds = (performance.now() - start) / 1000;
      checkFullLength(out, `ours (${threads} threads)`);
      side.last = { seed, tokens: out.map((g) => g.tokens), generations: out };
      return seconds;
    },
  };
  return side;
}
