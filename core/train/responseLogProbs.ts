/**
 * Log-probs of given responses under a set of weights — the reference policy's for the KL term, or the
 * current policy's when the sampler's are not trusted (e.g. after a weight swap mid-rollout).
 */
import { Executable } from '../graph/index.ts';
import type { SessionConfig } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import { buildTokenLogProbs, logProbChunkTokens } from '../model/tokenLogProbs.ts';
import type { LogProbChunkSetting } from '../model/tokenLogProbs.ts';
import { weightFeeds } from '../model/weightFeeds.ts';
import { packSequences } from './rolloutBatch.ts';

export interface ScoredSequence {
  promptIds: readonly number[];
  responseIds: readonly number[];
}

export class ResponseScorer {
  private constructor(
    private readonly config: Qwen2Config,
    private readonly exec: Executable,
  ) {}

  /** `chunk`: the trainer's `logProbChunkTokens` (the vocabulary-wide step in token chunks). */
  static async create(
    config: Qwen2Config,
    session: SessionConfig = {},
    chunk?: LogProbChunkSetting,
  ): Promise<ResponseScorer> {
    const chunkTokens = logProbChunkTokens(chunk, config.vocabSize);
    const graph = buildTokenLogProbs(config, 'float32', { chunkTokens }).graph;
    return new ResponseScorer(config, await Executable.compile(graph, session));
  }

  /** log softmax(logits/T) of every response token, per row; `batchSize` rows per forward pass. */
  async logProbs(
    weights: Map<string, Float32Array>,
    rows: readonly ScoredSequence[],
    temperature: number,
    batchSize = 16,
  ): Promise<number[][]> {
    const feedsW = weightFeeds(this.config, weights);
    const out: number[][] = [];
    for (let start = 0; start < rows.length; start += batchSize) {
      const chunk = rows.slice(start, start + batchSize);
      const packed = packSequences(chunk);
      const r = await this.exec.run({
        ...feedsW,
        ...packed,
        temperature: { data: new Float32Array([temperature]), dims: [] },
      });
      const L = packed.input_ids.dims[1] - 1;
      const lp = r.logprobs.data as Float32Array;
      chunk.forEach((row, b) => {
        const P = row.promptIds.length;
        out.push(row.responseIds.map((_, k) => lp[b * L + P + k - 1]));
      });
    }
    return out;
  }
}
