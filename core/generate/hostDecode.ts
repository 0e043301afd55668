/**
 * Decoding with the host drawing: one token per session run, the logits row of each row sampled by
 * `sampleToken` (sampling.ts) with the row's uniform. Exact across machines on the CPU, and the only path
 * for top-k / top-p, which the in-graph head cannot draw.
 */
import type { Executable, Feeds } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import { decodeLoopNames } from './decodeLoop.ts';
import type { GenerateOptions, Generation, GenerationRequest } from './generation.ts';
import { growMask, KvBuffers, runDecode } from './kvBuffers.ts';
import { advanceRow, prefillBatch } from './rows.ts';
import { sampleToken } from './sampling.ts';
import { SAMPLING_HEAD_OUTPUTS, samplingHeadNames } from './samplingHead.ts';

/**
 * Generates `requests` one token per run on `exec` (a decode graph, with or without the sampling head:
 * `hasHead`); `feeds` are the weights when they are fed rather than embedded.
 */
export async function hostDecode(
  exec: Executable,
  feeds: Feeds,
  config: Qwen2Config,
  hasHead: boolean,
  requests: GenerationRequest[],
  opts: GenerateOptions,
): Promise<Generation[]> {
  const c = config;
  const B = requests.length;
  const pad = opts.padTokenId ?? 0;
  const prefill = prefillBatch(requests, pad);
  const { rows, ids, pos, promptLen } = prefill;
  let mask = prefill.mask;
  // One cache buffer per layer and K/V, sized for the whole response; the graph reads the filled prefix.
  const cache = new KvBuffers(c, B, promptLen + opts.maxNewTokens);
  const head = new HeadPlaceholders(hasHead, B, exec.outputNames);
  let step = await runDecode(
    exec,
    { ...feeds, ...head.feeds() },
    cache.feeds(),
    ids,
    pos,
    mask,
    promptLen,
    head.outputs,
  );
  cache.append(step, promptLen);

  for (let n = 0; n < opts.maxNewTokens; n++) {
    const logits = step.logits.data as Float32Array;
    const V = c.vocabSize;
    const draw = (b: number, u: number) => sampleToken(logits.subarray(b * V, (b + 1) * V), opts.sampling, u);
    const next = new BigInt64Array(B);
    const nextPos = new BigInt64Array(B);
    for (const [b, row] of rows.entries()) {
      if (row.done) {
        next[b] = BigInt(pad);
        continue;
      }
      await advanceRow(row, (u) => draw(b, u), opts);
      const last = row.out.tokens[row.out.tokens.length - 1];
      next[b] = BigInt(last);
      nextPos[b] = BigInt(row.position++);
    }
    if (rows.every((r) => r.done) || n === opts.maxNewTokens - 1) break;
    // A finished row keeps its slot with a masked pad token, so the batch stays rectangular.
    mask = growMask(
      mask,
      rows.map((r) => !r.done),
    );
    step = await runDecode(
      exec,
      { ...feeds, ...head.feeds() },
      cache.feeds(),
      next,
      nextPos,
      mask,
      1,
      head.outputs,
    );
    cache.append(step, 1);
  }
  return rows.map((r) => r.out);
}

/**
 * A graph with the sampling head, used where the host draws (top-k / top-p, which the head cannot):
 * the head's inputs are fed placeholders, the loop runs zero times, and the logits come back.
 */
class HeadPlaceholders {
  readonly outputs: readonly string[];

  constructor(
    private readonly hasHead: boolean,
    private readonly batch: number,
    outputNames: readonly string[],
  ) {
    const headOnly: readonly string[] = [
      ...SAMPLING_HEAD_OUTPUTS,
      decodeLoopNames.tokens,
      decodeLoopNames.logprobs,
    ];
    this.outputs = outputNames.filter((n) => !headOnly.includes(n));
  }

  feeds(): Feeds {
    if (!this.hasHead) return {};
    const B = this.batch;
    return {
      [samplingHeadNames.uniform]: { data: new Float32Array(B), dims: [B] },
      [samplingHeadNames.inverseTemperature]: { data: new Float32Array(B).fill(1), dims: [B] },
      [decodeLoopNames.uniforms]: { data: new Float32Array(0), dims: [B, 0] },
      [decodeLoopNames.greedy]: { data: new Uint8Array(B), dims: [B] },
      [decodeLoopNames.forcedToken]: { data: new BigInt64Array(B), dims: [B, 1] },
      [decodeLoopNames.forced]: { data: new Uint8Array(B), dims: [B, 1] },
    };
  }
}
