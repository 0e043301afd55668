/**
 * Log-probs of given responses under a set of weights — the reference policy's for the KL term, or the
 * current policy's when the sampler's are not trusted (e.g. after a weight swap mid-rollout).
 */
import { Executable } from '../graph/index.ts';
import type { SessionConfig } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import { buildTokenLogProbs, logProbChunking } from '../model/tokenLogProbs.ts';
import type { FrozenBaseOptions, LogProbChunkSetting } from '../model/tokenLogProbs.ts';
import { loraFeeds } from '../model/loraGraph.ts';
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
    private readonly frozen: FrozenBaseOptions,
  ) {}

  /**
   * `chunk`: the trainer's `logProbChunkTokens` (how the vocabulary-wide step is split: logProbChunking).
   * `frozen`: a LoRA trainer's policy as it computes it — the adapters unmerged beside the base, the base
   * at `weightDtype` (lora.baseDtype) — so that its scores are the trainer's own.
   */
  static async create(
    config: Qwen2Config,
    session: SessionConfig = {},
    chunk?: LogProbChunkSetting,
    frozen: FrozenBaseOptions = {},
  ): Promise<ResponseScorer> {
    const chunking = logProbChunking(chunk, config.vocabSize);
    const graph = buildTokenLogProbs(config, 'float32', { ...chunking, ...frozen }).graph;
    return new ResponseScorer(config, await Executable.compile(graph, session), frozen);
  }

  /**
   * log softmax(logits/T) of every response token, per row; `batchSize` rows per forward pass. A scorer
   * built with `frozen.lora` takes the adapters too, and `weights` holds the base as halfWeights does.
   */
  async logProbs(
    weights: ReadonlyMap<string, Float32Array | Uint16Array>,
    rows: readonly ScoredSequence[],
    temperature: number,
    batchSize = 16,
    adapters?: ReadonlyMap<string, Float32Array>,
  ): Promise<number[][]> {
    const { lora, weightDtype } = this.frozen;
    if (lora && !adapters) throw new Error('ResponseScorer: a LoRA scorer needs the adapters');
    const feedsW = {
      ...weightFeeds(this.config, weights, weightDtype),
      ...(lora ? loraFeeds(this.config, lora, adapters!) : {}),
    };
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
