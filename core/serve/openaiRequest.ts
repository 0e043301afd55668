/**
 * The request bodies of OpenAI's `/v1/completions` and `/v1/chat/completions`, as far as a sampler on our
 * Generator can honour them, plus the vLLM extras RL clients send (`top_k`, `stop_token_ids`, `ignore_eos`,
 * `include_stop_str_in_output`, `return_token_ids`). A field we cannot honour with a non-default value is a
 * 400 naming it, never silently ignored; unknown fields are ignored, as OpenAI's and vLLM's servers do.
 */
import { z } from 'zod';
import type { SamplingParams } from '../generate/sampling.ts';

const tokenIds = z.array(z.int().min(0)).min(1);
const onlyDefault = <T extends z.ZodType>(schema: T, value: unknown, why: string) =>
  schema.nullish().refine((v) => v === undefined || v === null || v === value, { message: why });

const common = {
  model: z.string().nullish(),
  n: z.int().min(1).max(64).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.int().min(-1).nullish(),
  max_tokens: z.int().min(1).nullish(),
  stop: z.union([z.string(), z.array(z.string().min(1)).max(16)]).nullish(),
  stop_token_ids: z.array(z.int().min(0)).nullish(),
  ignore_eos: z.boolean().nullish(),
  include_stop_str_in_output: z.boolean().nullish(),
  return_token_ids: z.boolean().nullish(),
  seed: z.int().min(0).max(0xffffffff).nullish(),
  /**
   * Our extension: the Generator's RNG coordinates of the first row (prompts and samples count up from
   * them), so a client reproduces in-process draws exactly, tool-turn continuations included (`position`:
   * the response tokens before this request's). Other servers ignore it.
   */
  reasonloop_rng: z
    .strictObject({
      seed: z.int().min(0).max(0xffffffff),
      step: z.int().min(0).max(0xffffffff).default(0),
      prompt: z.int().min(0).max(0xffffffff).default(0),
      sample: z.int().min(0).max(0xffffffff).default(0),
      position: z.int().min(0).max(0xffffffff).default(0),
    })
    .nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).loose().nullish(),
  presence_penalty: onlyDefault(z.number(), 0, 'penalties are not supported (only 0)'),
  frequency_penalty: onlyDefault(z.number(), 0, 'penalties are not supported (only 0)'),
  logit_bias: z
    .record(z.string(), z.number())
    .nullish()
    .refine((v) => !v || Object.keys(v).length === 0, { message: 'logit_bias is not supported' }),
};

const completionBody = z
  .object({
    ...common,
    prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)]),
    logprobs: z.int().min(0).max(20).nullish(),
    echo: onlyDefault(z.boolean(), false, 'echo is not supported'),
    best_of: z.int().min(1).nullish(),
    suffix: onlyDefault(z.string(), '', 'suffix is not supported'),
  })
  .loose();

const chatContent = z.union([
  z.string(),
  z.array(z.object({ type: z.literal('text'), text: z.string() }).loose()),
]);
const chatBody = z
  .object({
    ...common,
    messages: z
      .array(
        z
          .object({
            role: z.enum(['system', 'user', 'assistant', 'tool', 'developer']),
            content: chatContent.nullish(),
          })
          .loose(),
      )
      .min(1),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.int().min(0).max(20).nullish(),
    max_completion_tokens: z.int().min(1).nullish(),
    add_generation_prompt: z.boolean().nullish(),
    tools: onlyDefault(z.array(z.unknown()), undefined, 'tools are not supported'),
  })
  .loose();

export type CompletionBody = z.infer<typeof completionBody>;
export type ChatBody = z.infer<typeof chatBody>;

/** A request that cannot be served as asked: answered 400 (or `status`) with OpenAI's error shape. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
    readonly status = 400,
    readonly type = 'invalid_request_error',
  ) {
    super(message);
  }
}

function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue.path.join('.') || null;
  throw new RequestError(`${param ? `${param}: ` : ''}${issue.message}`, param);
}

export function parseCompletionBody(body: unknown): CompletionBody {
  const parsed = parseWith(completionBody, body);
  if (parsed.best_of != null && parsed.best_of !== (parsed.n ?? 1))
    throw new RequestError('best_of other than n is not supported', 'best_of');
  return parsed;
}

export function parseChatBody(body: unknown): ChatBody {
  return parseWith(chatBody, body);
}

/** The completion prompts as a list: each a string or token ids. */
export function completionPrompts(prompt: CompletionBody['prompt']): (string | number[])[] {
  if (typeof prompt === 'string') return [prompt];
  if (prompt.every((p) => typeof p === 'number')) return [prompt as number[]];
  return prompt as (string | number[])[];
}

/** A chat message's text (content parts of type text joined). */
export function messageText(content: z.infer<typeof chatContent> | null | undefined): string {
  if (content == null) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

/** What every row of a request shares: sampling settings, stops, seed, log-probs, streaming. */
export interface RowSettings {
  n: number;
  sampling: SamplingParams;
  /** undefined: as many as the context allows (chat), 16 for completions. */
  maxTokens: number | undefined;
  stopStrings: string[];
  extraStopTokenIds: number[];
  ignoreEos: boolean;
  includeStopStr: boolean;
  seed: number;
  /** RNG coordinates of the first row. */
  rng: { step: number; prompt: number; sample: number; position: number };
  topLogprobs: number;
  stream: boolean;
  includeUsage: boolean;
}

/** The sampler's settings from OpenAI's fields: temperature 0 = greedy; top_k −1 or 0 and top_p 1 = off. */
export function rowSettings(
  body: CompletionBody | ChatBody,
  topLogprobs: number,
  maxTokens: number | undefined,
): RowSettings {
  const sampling: SamplingParams = { temperature: body.temperature ?? 1 };
  if (body.top_k != null && body.top_k > 0) sampling.topK = body.top_k;
  if (body.top_p != null && body.top_p < 1) sampling.topP = body.top_p;
  return {
    n: body.n ?? 1,
    sampling,
    maxTokens,
    stopStrings: body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop,
    extraStopTokenIds: body.stop_token_ids ?? [],
    ignoreEos: body.ignore_eos ?? false,
    includeStopStr: body.include_stop_str_in_output ?? false,
    // Not random when absent: a request without a seed is as reproducible as one with seed 0.
    seed: body.reasonloop_rng?.seed ?? body.seed ?? 0,
    rng: body.reasonloop_rng ?? { step: 0, prompt: 0, sample: 0, position: 0 },
    topLogprobs,
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
  };
}
