/**
 * Decoding with the graph drawing (decodeLoop.ts): each run feeds every row's newest token (the prompt at
 * first) and returns k = min(chunk, tokens left) tokens per row. The host then takes them in order as the
 * per-token path would; a row that ends (stop token or string, length) ignores the rest, and a row whose
 * turn ends with inserted tool output drops the rest and masks their cache columns, so its next run
 * continues exactly after the turn, the inserted tokens forced into the loop.
 */
import type { Executable, Feeds } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import { decodeLoopNames } from './decodeLoop.ts';
import type { GenerateOptions, Generation, GenerationRequest } from './generation.ts';
import { appendMaskColumns, growMask, KvBuffers, runDecode } from './kvBuffers.ts';
import { advanceRow, prefillBatch, rowUniform, type Row } from './rows.ts';
import type { SampledToken } from './sampling.ts';
import { SAMPLING_HEAD_OUTPUTS, samplingHeadNames } from './samplingHead.ts';

/**
 * Generates `requests` on `exec` (the decode graph with the sampling head and the loop), `chunk` tokens
 * per run at most; `feeds` are the weights when they are fed rather than embedded.
 */
export async function graphDecode(
  exec: Executable,
  feeds: Feeds,
  config: Qwen2Config,
  chunk: number,
  requests: GenerationRequest[],
  opts: GenerateOptions,
): Promise<Generation[]> {
  const B = requests.length;
  const pad = opts.padTokenId ?? 0;
  const T = opts.sampling.temperature;
  const prefill = prefillBatch(requests, pad);
  const rows = prefill.rows;
  let { ids, pos, mask, promptLen: width } = prefill;
  const cache = new KvBuffers(config, B, width + opts.maxNewTokens);
  const singleDraw: readonly string[] = ['logits', ...SAMPLING_HEAD_OUTPUTS];
  const outputs = exec.outputNames.filter((n) => !singleDraw.includes(n));
  for (;;) {
    const active = rows.filter((r) => !r.done);
    const left = Math.max(...active.map((r) => opts.maxNewTokens - r.out.tokens.length));
    const k = Math.min(chunk, left);
    cache.reserve(width + k - 1);
    const step = await runDecode(
      exec,
      { ...feeds, ...chunkFeeds(rows, k, T, opts) },
      cache.feeds(),
      ids,
      pos,
      mask,
      width,
      outputs,
    );
    cache.append(step, width + k - 1);
    const tokens = step[decodeLoopNames.tokens].data as BigInt64Array;
    const logprobs = step[decodeLoopNames.logprobs].data as Float32Array;
    // Per row, how many of the loop's k − 1 cache columns hold tokens the row keeps.
    const kept = new Array<number>(B).fill(0);
    for (const [b, row] of rows.entries()) {
      if (row.done) continue;
      let taken = 0;
      let turned = false;
      for (let j = 0; j < k && !row.done && !turned; j++) {
        const logprob = logprobs[j * B + b];
        const drawn: SampledToken = {
          token: Number(tokens[j * B + b]),
          logprob,
          samplingLogprob: T === 0 ? 0 : logprob,
        };
        if (opts.sampling.rawLogprob) drawn.rawLogprob = logprob; // headSupports(): T is 0 or 1
        turned = (await advanceRow(row, () => drawn, opts)) && j < k - 1;
        taken++;
      }
      // A turn's last token is fed again in the next run, after which the inserted tokens follow.
      kept[b] = row.done ? 0 : turned ? taken - 1 : k - 1;
      row.position += kept[b];
    }
    if (rows.every((r) => r.done)) break;
    mask = appendMaskColumns(mask, k - 1, kept);
    mask = growMask(
      mask,
      rows.map((r) => !r.done),
    );
    ids = new BigInt64Array(B);
    pos = new BigInt64Array(B);
    for (const [b, row] of rows.entries()) {
      ids[b] = BigInt(row.done ? pad : row.out.tokens[row.out.tokens.length - 1]);
      if (!row.done) pos[b] = BigInt(row.position++);
    }
    width = 1;
  }
  return rows.map((r) => r.out);
}

/**
 * The in-graph draw's inputs for a run producing k tokens per row: each draw's uniform at the row's token
 * index, 1/T, greedy rows, and the inserted tokens due (forced instead of drawn).
 */
function chunkFeeds(rows: readonly Row[], k: number, T: number, opts: GenerateOptions): Feeds {
  const B = rows.length;
  const first = new Float32Array(B);
  const later = new Float32Array(B * (k - 1));
  const forcedToken = new BigInt64Array(B * k);
  const forced = new Uint8Array(B * k);
  rows.forEach((row, b) => {
    if (row.done) return;
    first[b] = rowUniform(row, opts);
    for (let j = 1; j < k; j++) later[b * (k - 1) + j - 1] = rowUniform(row, opts, j);
    row.forced.slice(0, k).forEach((t, j) => {
      forcedToken[b * k + j] = BigInt(t);
      forced[b * k + j] = 1;
    });
  });
  return {
    [samplingHeadNames.uniform]: { data: first, dims: [B] },
    [samplingHeadNames.inverseTemperature]: { data: new Float32Array(B).fill(T > 0 ? 1 / T : 1), dims: [B] },
    [decodeLoopNames.uniforms]: { data: later, dims: [B, k - 1] },
    [decodeLoopNames.greedy]: { data: new Uint8Array(B).fill(T === 0 ? 1 : 0), dims: [B] },
    [decodeLoopNames.forcedToken]: { data: forcedToken, dims: [B, k] },
    [decodeLoopNames.forced]: { data: forced, dims: [B, k] },
  };
}
