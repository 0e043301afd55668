/**
 * OpenAI's response objects built from our rows: completions, chat completions, their streamed chunks and
 * log-probs. Token ids ride along as vLLM returns them with `return_token_ids`: `token_ids` on each choice
 * (and on each streamed chunk), `prompt_token_ids` on a completion's choice or at a chat response's top.
 * Text is decoded without special tokens (vLLM's `skip_special_tokens`), and ends before a matched stop
 * string unless `include_stop_str_in_output`.
 */
import type { TokenLogprob } from './topLogprobs.ts';

/** Detokenizing for responses; without a tokenizer, tokens read "token_id:N" (vLLM's form) and text is empty. */
export interface TextCodec {
  /** The response text of `ids` (special tokens left out). */
  text(ids: readonly number[]): string;
  /** One token's string, for log-probs. */
  token(id: number): string;
}

export interface FinishedRow {
  tokens: number[];
  logprobs: number[];
  top: TokenLogprob[][] | undefined;
  finishReason: 'stop' | 'length';
}

/** The response text, cut before the first stop string in it (unless the request keeps it). */
export function finalText(
  codec: TextCodec,
  tokens: readonly number[],
  stops: readonly string[],
  keep: boolean,
): string {
  const text = codec.text(tokens);
  if (keep || stops.length === 0) return text;
  const cut = Math.min(...stops.map((s) => text.indexOf(s)).filter((i) => i >= 0));
  return Number.isFinite(cut) ? text.slice(0, cut) : text;
}

/** Completion log-probs (the legacy shape): tokens, token_logprobs, top_logprobs, text_offset. */
export function completionLogprobs(codec: TextCodec, row: FinishedRow, from = 0, offset0 = 0) {
  const tokens = row.tokens.slice(from).map((t) => codec.token(t));
  const textOffset: number[] = [];
  let offset = offset0;
  for (const t of tokens) {
    textOffset.push(offset);
    offset += t.length;
  }
  return {
    tokens,
    token_logprobs: row.logprobs.slice(from),
    top_logprobs: row.top
      ? row.top
          .slice(from)
          .map((alts) => Object.fromEntries(alts.map((a) => [codec.token(a.token), a.logprob])))
      : null,
    text_offset: textOffset,
  };
}

function bytesOf(s: string): number[] {
  return [...Buffer.from(s, 'utf8')];
}

/** Chat log-probs: one entry per token with its bytes and alternatives. */
export function chatLogprobs(codec: TextCodec, row: FinishedRow, from = 0) {
  return {
    content: row.tokens.slice(from).map((t, k) => {
      const i = from + k;
      const token = codec.token(t);
      return {
        token,
        logprob: row.logprobs[i],
        bytes: bytesOf(token),
        top_logprobs: (row.top?.[i] ?? []).map((a) => {
          const alt = codec.token(a.token);
          return { token: alt, logprob: a.logprob, bytes: bytesOf(alt) };
        }),
      };
    }),
  };
}

export function usage(promptTokens: number, completionTokens: number) {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/**
 * Text of a streamed row, emitted as it grows: what decodes so far, less a trailing partial character
 * (U+FFFD while a UTF-8 sequence is incomplete) and less the tail that could still become a stop string.
 */
export class TextStream {
  private readonly tokens: number[] = [];
  private emitted = 0;
  private readonly holdBack: number;

  constructor(
    private readonly codec: TextCodec,
    private readonly stops: readonly string[],
    private readonly keepStop: boolean,
  ) {
    this.holdBack = stops.length > 0 ? Math.max(...stops.map((s) => s.length)) - 1 : 0;
  }

  /** The new text after one more token. */
  push(token: number): string {
    this.tokens.push(token);
    const text = this.codec.text(this.tokens);
    let end = text.length;
    while (end > 0 && text[end - 1] === '\uFFFD') end--;
    end = Math.max(this.emitted, end - this.holdBack);
    // Never emit past a stop string already in the text.
    const stopAt = this.stopIndex(text);
    if (stopAt !== undefined) end = Math.min(end, stopAt);
    const delta = text.slice(this.emitted, Math.max(this.emitted, end));
    this.emitted += delta.length;
    return delta;
  }

  /** The rest of the text once the row is done. */
  finish(): string {
    const text = finalText(this.codec, this.tokens, this.stops, this.keepStop);
    const rest = text.slice(this.emitted);
    this.emitted = text.length;
    return rest;
  }

  private stopIndex(text: string): number | undefined {
    if (this.keepStop) return undefined;
    const at = this.stops.map((s) => text.indexOf(s)).filter((i) => i >= 0);
    return at.length > 0 ? Math.min(...at) : undefined;
  }
}
