/**
 * A copy of `Generator.generate`'s loop (core/generate/hostDecode.ts) for the bench workload only (equal
 * prompt lengths, no stop tokens or strings, no inserted tokens), with a clock around each part: the
 * session run, the JS sampling (RNG draw + sampleToken per row), and building the next step's feeds.
 * It must give exactly the tokens of the real Generator (the bench checks), so its times describe it.
 */
import type { Feeds, HostTensor, Results } from '../../core/graph/index.ts';
import { uniformAt } from '../../core/random.ts';
import { sampleToken } from '../../core/generate/sampling.ts';
import type { Qwen2Config } from '../../core/model/config.ts';
import { KvBuffers, growMask } from '../../core/generate/kvBuffers.ts';
import { ROLLOUT } from './workload.ts';

/** Runs the decode graph once (an `Executable`, or a profiling session with the same options). */
export type DecodeRunner = (feeds: Feeds) => Promise<Results>;

export interface LoopTimings {
  prefillRunMs: number;
  /** Decode-graph runs after the prefill (maxNewTokens − 1: the last token needs no run). */
  decodeSteps: number;
  decodeRunMs: number;
  /** Sampling every row, over all maxNewTokens positions. */
  samplingMs: number;
  /** Next ids/positions, the grown attention mask and the cache feeds, over all decode steps. */
  feedsMs: number;
  totalMs: number;
  tokens: number[][];
}

export async function instrumentedRollout(
  runner: DecodeRunner,
  weights: Feeds,
  c: Qwen2Config,
  prompts: readonly number[][],
  seed: number,
): Promise<LoopTimings> {
  const start = performance.now();
  const B = prompts.length;
  const T = prompts[0].length;
  const ids = new BigInt64Array(B * T);
  const pos = new BigInt64Array(B * T);
  let mask: HostTensor = { data: new BigInt64Array(B * T).fill(1n), dims: [B, T] };
  prompts.forEach((p, b) => {
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = BigInt(p[t]);
      pos[b * T + t] = BigInt(t);
    }
  });
  // As Generator: a fixed-capacity cache fed whole, extended with each run's new positions.
  const cache = new KvBuffers(c, B, T + ROLLOUT.maxNewTokens);
  const attentionFeed = (): HostTensor => mask;
  const run = (ids: BigInt64Array, pos: BigInt64Array, width: number, attention: HostTensor) =>
    runner({
      ...weights,
      ...cache.feeds(),
      input_ids: { data: ids, dims: [B, width] },
      position_ids: { data: pos, dims: [B, width] },
      attention_mask: attention,
    });

  const prefillMask = attentionFeed();
  let t0 = performance.now();
  let step = await run(ids, pos, T, prefillMask);
  cache.append(step, T);
  const prefillRunMs = performance.now() - t0;
  const tokens: number[][] = prompts.map(() => []);
  const position = prompts.map((p) => p.length);
  let samplingMs = 0;
  let feedsMs = 0;
  let decodeRunMs = 0;
  let decodeSteps = 0;
  for (let n = 0; n < ROLLOUT.maxNewTokens; n++) {
    t0 = performance.now();
    const logits = step.logits.data as Float32Array;
    const next = new BigInt64Array(B);
    const nextPos = new BigInt64Array(B);
    for (let b = 0; b < B; b++) {
      const u = uniformAt(seed, 0, b, 0, tokens[b].length);
      const s = sampleToken(
        logits.subarray(b * c.vocabSize, (b + 1) * c.vocabSize),
        { temperature: ROLLOUT.temperature },
        u,
      );
      tokens[b].push(s.token);
      next[b] = BigInt(s.token);
      nextPos[b] = BigInt(position[b]++);
    }
    samplingMs += performance.now() - t0;
    if (n === ROLLOUT.maxNewTokens - 1) break;
    t0 = performance.now();
    mask = growMask(
      mask,
      prompts.map(() => true),
    );
    const attention = attentionFeed();
    feedsMs += performance.now() - t0;
    t0 = performance.now();
    step = await run(next, nextPos, 1, attention);
    const runMs = performance.now() - t0;
    cache.append(step, 1);
    decodeRunMs += runMs;
    decodeSteps++;
  }
  return {
    prefillRunMs,
    decodeSteps,
    decodeRunMs,
    samplingMs,
    feedsMs,
    totalMs: performance.now() - start,
    tokens,
  };
}
