/**
 * `/v1/completions` and `/v1/chat/completions` on the batcher: a request becomes prompts × n rows (choice
 * index = prompt · n + sample, OpenAI's order), each drawn at RNG coordinates (seed, 0, prompt, sample), so
 * `n` samples of one prompt differ and the same request gives the same answer. Answered whole, or streamed
 * as OpenAI's chunks with one chunk per drawn token.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ContinuousBatcher, EmittedToken, RowResult } from './batcher.ts';
import { EventStream } from './http.ts';
import {
  completionPrompts,
  messageText,
  parseChatBody,
  parseCompletionBody,
  RequestError,
  rowSettings,
  type RowSettings,
} from './openaiRequest.ts';
import {
  chatLogprobs,
  completionLogprobs,
  finalText,
  TextStream,
  usage,
  type TextCodec,
} from './openaiResponse.ts';
import { versionName, type Policy } from './policy.ts';

/** What a generation request needs from the server. */
export interface GenerationContext {
  policy: Policy;
  batcher: ContinuousBatcher;
  modelName: string;
  /** Most rows waiting to join the batch; more is a 503. */
  maxQueue: number;
  closing: boolean;
}

/** OpenAI's completions' default length. */
const COMPLETION_DEFAULT_MAX_TOKENS = 16;

export function textCodec(policy: Policy): TextCodec {
  const tok = policy.tokenizer;
  if (!tok) return { text: () => '', token: (id) => `token_id:${id}` };
  return { text: (ids) => tok.decode(ids, true), token: (id) => tok.decode([id]) };
}

function checkModel(ctx: GenerationContext, model: string | null | undefined): void {
  if (model != null && model !== ctx.modelName)
    throw new RequestError(
      `The model \`${model}\` does not exist (this server serves ${ctx.modelName})`,
      'model',
      404,
      'NotFoundError',
    );
}

function encodePrompt(ctx: GenerationContext, prompt: string | number[], param: string): number[] {
  const { config, tokenizer } = ctx.policy;
  if (typeof prompt === 'string') {
    if (!tokenizer)
      throw new RequestError('this model has no tokenizer: send the prompt as token ids', param);
    const ids = tokenizer.encode(prompt);
    if (ids.length === 0) throw new RequestError('the prompt encodes to no tokens', param);
    return ids;
  }
  const bad = prompt.findIndex((id) => id >= config.vocabSize);
  if (bad >= 0)
    throw new RequestError(
      `token ${bad} (${prompt[bad]}) is not below vocab_size ${config.vocabSize}`,
      param,
    );
  return prompt;
}

/** The rows' length limit: asked, or the default; prompt + completion must fit the model's context. */
function maxNewTokens(ctx: GenerationContext, promptIds: number[], asked: number | undefined): number {
  const context = ctx.policy.config.maxPositionEmbeddings;
  const max = asked ?? context - promptIds.length;
  if (promptIds.length + max > context || max < 1)
    throw new RequestError(
      `This model's maximum context length is ${context} tokens. However, you requested ${promptIds.length + max} tokens (${promptIds.length} in the prompt, ${max} for the completion).`,
      'max_tokens',
    );
  return max;
}

interface Choice {
  index: number;
  promptIds: number[];
  result: RowResult;
}

/**
 * Submits prompts × n rows; `onToken(choice, token)` streams. Refuses with 503 when the queue cannot take
 * them all, before any is queued.
 */
async function runRows(
  ctx: GenerationContext,
  prompts: number[][],
  s: RowSettings,
  signal: AbortSignal,
  onToken?: (choice: number, t: EmittedToken) => void,
  onDone?: (choice: Choice) => void,
): Promise<Choice[]> {
  const { policy, batcher } = ctx;
  if (ctx.closing) throw new RequestError('the server is shutting down', null, 503, 'server_unavailable');
  const rows = prompts.length * s.n;
  if (batcher.queued + rows > ctx.maxQueue)
    throw new RequestError(
      `the queue is full (${batcher.queued} rows waiting, this request adds ${rows}, at most ${ctx.maxQueue}): retry later`,
      null,
      503,
      'server_overloaded',
    );
  if (s.stopStrings.length > 0 && !policy.tokenizer)
    throw new RequestError('stop strings need a tokenizer; this model has none (use stop_token_ids)', 'stop');
  const stopTokenIds = [...(s.ignoreEos ? [] : policy.stopTokenIds), ...s.extraStopTokenIds];
  const limits = prompts.map((promptIds) => maxNewTokens(ctx, promptIds, s.maxTokens));
  const choices: Promise<Choice>[] = [];
  prompts.forEach((promptIds, p) => {
    const maxTokens = limits[p];
    for (let i = 0; i < s.n; i++) {
      const index = p * s.n + i;
      const done = batcher
        .submit({
          promptIds,
          maxNewTokens: maxTokens,
          sampling: s.sampling,
          seed: s.seed,
          step: s.rng.step,
          prompt: s.rng.prompt + p,
          sample: s.rng.sample + i,
          position: s.rng.position,
          stopTokenIds,
          stopStrings: s.stopStrings,
          topLogprobs: s.topLogprobs,
          onToken: onToken && ((t) => onToken(index, t)),
          signal,
        })
        .then((result) => {
          const choice = { index, promptIds, result };
          onDone?.(choice);
          return choice;
        });
      choices.push(done);
    }
  });
  return Promise.all(choices);
}

function header(ctx: GenerationContext, prefix: string, object: string) {
  return {
    id: `${prefix}-${randomUUID()}`,
    object,
    created: Math.floor(Date.now() / 1000),
    model: ctx.modelName,
    system_fingerprint: versionName(ctx.policy.version),
  };
}

function promptTokens(choices: Choice[], n: number): number {
  return choices.filter((c) => c.index % n === 0).reduce((sum, c) => sum + c.promptIds.length, 0);
}

function completionTokens(choices: Choice[]): number {
  return choices.reduce((sum, c) => sum + c.result.tokens.length, 0);
}

/** A stream's end: the usage chunk when `stream_options.include_usage` asked for it, then `[DONE]`. */
function endStream(
  events: EventStream,
  head: ReturnType<typeof header>,
  includeUsage: boolean,
  prompt: number,
  choices: Choice[],
): void {
  if (includeUsage) events.send({ ...head, choices: [], usage: usage(prompt, completionTokens(choices)) });
  events.done();
}

export async function completions(
  ctx: GenerationContext,
  body: unknown,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const req = parseCompletionBody(body);
  checkModel(ctx, req.model);
  const prompts = completionPrompts(req.prompt).map((p) => encodePrompt(ctx, p, 'prompt'));
  const s = rowSettings(req, req.logprobs ?? 0, req.max_tokens ?? COMPLETION_DEFAULT_MAX_TOKENS);
  const codec = textCodec(ctx.policy);
  const head = header(ctx, 'cmpl', 'text_completion');
  if (!s.stream) {
    const choices = await runRows(ctx, prompts, s, signal);
    res.setHeader('x-model-version', head.system_fingerprint);
    return sendBody(res, {
      ...head,
      choices: choices.map((c) => ({
        index: c.index,
        text: finalText(codec, c.result.tokens, s.stopStrings, s.includeStopStr),
        logprobs: req.logprobs != null ? completionLogprobs(codec, c.result) : null,
        finish_reason: c.result.finishReason,
        prompt_token_ids: c.promptIds,
        token_ids: c.result.tokens,
      })),
      usage: usage(promptTokens(choices, s.n), completionTokens(choices)),
    });
  }
  const streams = new Map<number, TextStream>();
  const textOf = (i: number) =>
    streams.get(i) ?? streams.set(i, new TextStream(codec, s.stopStrings, s.includeStopStr)).get(i)!;
  let events: EventStream | undefined;
  const open = () => (events ??= new EventStream(res));
  const choices = await runRows(
    ctx,
    prompts,
    s,
    signal,
    (index, t) =>
      open().send({
        ...head,
        choices: [
          {
            index,
            text: textOf(index).push(t.token),
            logprobs:
              req.logprobs != null
                ? completionLogprobs(codec, {
                    tokens: [t.token],
                    logprobs: [t.logprob],
                    top: t.top && [t.top],
                    finishReason: 'length',
                  })
                : null,
            finish_reason: null,
            token_ids: [t.token],
          },
        ],
      }),
    (c) =>
      open().send({
        ...head,
        choices: [
          {
            index: c.index,
            text: textOf(c.index).finish(),
            logprobs: null,
            finish_reason: c.result.finishReason,
            token_ids: [],
          },
        ],
      }),
  );
  endStream(open(), head, s.includeUsage, promptTokens(choices, s.n), choices);
}

export async function chatCompletions(
  ctx: GenerationContext,
  body: unknown,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const req = parseChatBody(body);
  checkModel(ctx, req.model);
  const tokenizer = ctx.policy.tokenizer;
  if (!tokenizer?.hasChatTemplate)
    throw new RequestError(
      'this model has no chat template (tokenizer_config.json chat_template): use /v1/completions',
      'messages',
    );
  const messages = req.messages.map((m) => ({
    role: m.role === 'developer' ? ('system' as const) : m.role,
    content: messageText(m.content),
  }));
  const promptIds = tokenizer.encodeChat(messages, {
    addGenerationPrompt: req.add_generation_prompt ?? true,
  });
  const s = rowSettings(
    req,
    req.logprobs ? (req.top_logprobs ?? 0) : 0,
    req.max_completion_tokens ?? req.max_tokens ?? undefined,
  );
  const codec = textCodec(ctx.policy);
  const head = header(ctx, 'chatcmpl', s.stream ? 'chat.completion.chunk' : 'chat.completion');
  const logprobsOf = (r: { tokens: number[]; logprobs: number[]; top: RowResult['top'] }) =>
    req.logprobs
      ? chatLogprobs(codec, { ...r, top: s.topLogprobs > 0 ? r.top : undefined, finishReason: 'length' })
      : null;
  if (!s.stream) {
    const choices = await runRows(ctx, [promptIds], s, signal);
    res.setHeader('x-model-version', head.system_fingerprint);
    return sendBody(res, {
      ...head,
      choices: choices.map((c) => ({
        index: c.index,
        message: {
          role: 'assistant',
          content: finalText(codec, c.result.tokens, s.stopStrings, s.includeStopStr),
        },
        logprobs: logprobsOf(c.result),
        finish_reason: c.result.finishReason,
        token_ids: c.result.tokens,
      })),
      usage: usage(promptIds.length, completionTokens(choices)),
      prompt_token_ids: promptIds,
    });
  }
  const streams = new Map<number, TextStream>();
  let events: EventStream | undefined;
  const open = () => (events ??= new EventStream(res));
  const choices = await runRows(
    ctx,
    [promptIds],
    s,
    signal,
    (index, t) => {
      let text = streams.get(index);
      const delta: { role?: string; content: string } = { content: '' };
      if (!text) {
        text = new TextStream(codec, s.stopStrings, s.includeStopStr);
        streams.set(index, text);
        delta.role = 'assistant';
      }
      delta.content = text.push(t.token);
      open().send({
        ...head,
        choices: [
          {
            index,
            delta,
            logprobs: logprobsOf({ tokens: [t.token], logprobs: [t.logprob], top: t.top && [t.top] }),
            finish_reason: null,
            token_ids: [t.token],
          },
        ],
      });
    },
    (c) =>
      open().send({
        ...head,
        choices: [
          {
            index: c.index,
            delta: { content: streams.get(c.index)?.finish() ?? '' },
            logprobs: null,
            finish_reason: c.result.finishReason,
            token_ids: [],
          },
        ],
      }),
  );
  endStream(open(), head, s.includeUsage, promptIds.length, choices);
}

function sendBody(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
