/**
 * The rows of one batched generation, shared by both decode paths: the left-padded prompt batch, each
 * row's uniform for its next token, and appending one token to a row (forced tool output, or drawn; then
 * stop tokens, stop strings and the turn hook decide whether the row goes on).
 */
import type { HostTensor } from '../graph/index.ts';
import { uniformAt } from '../random.ts';
import type { GenerateOptions, Generation, GenerationRequest } from './generation.ts';
import type { SampledToken } from './sampling.ts';

/** One request's progress through the batch. */
export interface Row {
  request: GenerationRequest;
  out: Generation;
  done: boolean;
  /** Inserted tokens (the turn hook's) still to be emitted, before any further draw. */
  forced: number[];
  /** Position id of the row's next fed token. */
  position: number;
}

/** Left-padded prompt batch for the prefill run. Pad positions get position 1, as HF's generate does. */
export function prefillBatch(
  requests: GenerationRequest[],
  pad: number,
): {
  rows: Row[];
  ids: BigInt64Array;
  pos: BigInt64Array;
  mask: HostTensor;
  promptLen: number;
} {
  const B = requests.length;
  const promptLen = Math.max(...requests.map((r) => r.promptIds.length));
  if (promptLen === 0) throw new Error('every prompt is empty');
  const rows: Row[] = requests.map((request) => ({
    request,
    out: { tokens: [], logprobs: [], sampled: [], finishReason: 'length' },
    done: false,
    forced: [],
    position: request.promptIds.length,
  }));
  const ids = new BigInt64Array(B * promptLen);
  const pos = new BigInt64Array(B * promptLen);
  const mask = new BigInt64Array(B * promptLen);
  requests.forEach((r, b) => {
    const offset = promptLen - r.promptIds.length;
    for (let t = 0; t < promptLen; t++) {
      const real = t >= offset;
      ids[b * promptLen + t] = BigInt(real ? r.promptIds[t - offset] : pad);
      pos[b * promptLen + t] = BigInt(real ? t - offset : 1);
      mask[b * promptLen + t] = real ? 1n : 0n;
    }
  });
  return { rows, ids, pos, mask: { data: mask, dims: [B, promptLen] }, promptLen };
}

/**
 * The row's uniform for its next token (or the one `ahead` after it): coordinates (seed, step, prompt,
 * sample, position).
 */
export function rowUniform(row: Row, opts: GenerateOptions, ahead = 0): number {
  const r = row.request;
  return uniformAt(opts.seed, opts.step ?? 0, r.prompt, r.sample, row.out.tokens.length + ahead);
}

/**
 * Appends one token to a row (forced or drawn by `draw` from the row's uniform) and decides whether the
 * row is finished. Returns whether the token ended a turn with inserted tokens (emitted next).
 */
export async function advanceRow(
  row: Row,
  draw: (u: number) => SampledToken,
  opts: GenerateOptions,
): Promise<boolean> {
  const out = row.out;
  let turned = false;
  if (row.forced.length > 0) {
    out.tokens.push(row.forced.shift()!);
    out.logprobs.push(0);
    out.sampled.push(false);
  } else {
    const s = draw(rowUniform(row, opts));
    out.tokens.push(s.token);
    out.logprobs.push(s.logprob);
    out.sampled.push(true);
    if (opts.stopTokenIds?.includes(s.token)) {
      out.finishReason = 'stop';
      row.done = true;
      return false;
    }
    const stop = matchStopString(out.tokens, opts);
    if (stop !== undefined) {
      const inserted = await opts.onTurnEnd?.({ request: row.request, tokens: out.tokens, stop });
      if (inserted !== undefined) {
        row.forced.push(...inserted);
        turned = inserted.length > 0;
      } else {
        out.finishReason = 'stop';
        row.done = true;
        return false;
      }
    }
  }
  if (out.tokens.length >= opts.maxNewTokens) row.done = true;
  return turned;
}

/**
 * The stop string that the newest token completes, if any. Only a tail long enough to contain a match is
 * decoded, and a match must end inside the newest token's text (tokens may run past the stop string).
 */
export function matchStopString(tokens: readonly number[], opts: GenerateOptions): string | undefined {
  const stops = opts.stopStrings;
  if (!stops || stops.length === 0 || !opts.decode || tokens.length === 0) return undefined;
  const longest = Math.max(...stops.map((s) => s.length));
  // A token decodes to at least one character, so the last `longest` tokens (plus the newest) hold any match.
  const tail = opts.decode(tokens.slice(-(longest + 1)));
  const newest = opts.decode(tokens.slice(-1)).length;
  return stops.find((s) => {
    const at = tail.lastIndexOf(s);
    return at >= 0 && at + s.length > tail.length - newest;
  });
}
