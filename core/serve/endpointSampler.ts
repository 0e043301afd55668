/**
 * Sampling from any OpenAI-compatible endpoint (`reasonloop serve`, vLLM, SGLang) with the Generator's
 * contract: requests of prompt token ids in, `Generation`s out (tokens, log-probs, which were sampled), stop
 * tokens and stop strings, and tool turns run as the in-process path runs them — the endpoint stops at the
 * turn's stop string, the turn hook's tokens are appended (marked not sampled), and a new request continues
 * from prompt + response so far. Token ids come from the endpoint (`token_ids`, as vLLM returns them with
 * `return_token_ids`), so the text is never re-tokenized.
 *
 * Each request carries the Generator's RNG coordinates (`reasonloop_rng`: seed, step, prompt, sample, and the
 * position its tokens start at), so `reasonloop serve` draws what the in-process path draws, sampled or
 * greedy, tool turns included. Other servers ignore that field and get a seed derived from the coordinates
 * instead: their samples differ from each other, but not as ours.
 *
 * A failed request fails the whole call at once: the first error aborts every request still in flight on
 * every endpoint (their sockets closed, so the servers stop decoding them) and no new one is sent, so a
 * server killed mid-step fails the attempt in the time the kernel takes to reset the socket, and the
 * retried attempt does not compete with orphaned requests of the failed one.
 */
import { setMaxListeners } from 'node:events';
import type { GenerateOptions, Generation, GenerationRequest } from '../generate/generation.ts';
import { matchStopString } from '../generate/rows.ts';
import { uniformAt } from '../random.ts';
import { postJson } from './postJson.ts';

export interface Endpoint {
  /** The API base, e.g. http://127.0.0.1:8000/v1. */
  url: string;
  /** The served model's name (`model` in each request). */
  model: string;
  apiKey?: string;
}

/** Requests in flight at once (the server batches them). */
const CONCURRENCY = 64;

/**
 * How long one completion request may take, by default: a turn of tens of thousands of tokens on a busy
 * server takes many minutes, and a non-streamed answer says nothing until its end.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 3_600_000;

/** How a call's requests are sent: its abort signal and each request's timeout. */
export interface EndpointCall {
  signal?: AbortSignal;
  timeoutMs?: number;
}

interface CompletionChoice {
  token_ids?: number[];
  logprobs?: { token_logprobs?: (number | null)[] } | null;
  finish_reason: string | null;
}

async function complete(
  endpoint: Endpoint,
  body: Record<string, unknown>,
  call: EndpointCall,
): Promise<CompletionChoice> {
  const url = `${endpoint.url.replace(/\/$/, '')}/completions`;
  const { status, text } = await postJson(
    url,
    { model: endpoint.model, ...body },
    {
      headers: endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {},
      signal: call.signal,
      timeoutMs: call.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    },
  );
  if (status < 200 || status >= 300)
    throw new Error(`${endpoint.url}/completions answered ${status}: ${text.slice(0, 500)}`);
  const choice = (JSON.parse(text) as { choices: CompletionChoice[] }).choices[0];
  if (!Array.isArray(choice?.token_ids))
    throw new Error(
      `${endpoint.url}/completions returned no token_ids (vLLM returns them with return_token_ids; other servers cannot be used here)`,
    );
  return choice;
}

/** One request's response, turn by turn. */
async function generateOne(
  endpoint: Endpoint,
  request: GenerationRequest,
  opts: GenerateOptions,
  call: EndpointCall,
): Promise<Generation> {
  const out: Generation = { tokens: [], logprobs: [], sampled: [], finishReason: 'length' };
  const { temperature, topP, topK } = opts.sampling;
  for (;;) {
    const remaining = opts.maxNewTokens - out.tokens.length;
    if (remaining <= 0) return out;
    const choice = await complete(
      endpoint,
      {
        prompt: [...request.promptIds, ...out.tokens],
        max_tokens: remaining,
        temperature,
        ...(topP !== undefined && topP < 1 ? { top_p: topP } : {}),
        ...(topK ? { top_k: topK } : {}),
        // Other servers key draws by the seed alone: one per (prompt, sample, position) keeps samples apart.
        seed: Math.floor(
          uniformAt(opts.seed, opts.step ?? 0, request.prompt, request.sample, out.tokens.length) * 2 ** 32,
        ),
        reasonloop_rng: {
          seed: opts.seed,
          step: opts.step ?? 0,
          prompt: request.prompt,
          sample: request.sample,
          position: out.tokens.length,
        },
        ...(opts.stopStrings?.length ? { stop: opts.stopStrings, include_stop_str_in_output: true } : {}),
        // The Generator stops at the caller's stop tokens only; a server adds its model's EOS unless told.
        stop_token_ids: opts.stopTokenIds ?? [],
        ignore_eos: true,
        logprobs: 0,
        return_token_ids: true,
        skip_special_tokens: false,
      },
      call,
    );
    const ids = choice.token_ids!;
    ids.forEach((id, i) => {
      out.tokens.push(id);
      out.logprobs.push(choice.logprobs?.token_logprobs?.[i] ?? 0);
      out.sampled.push(true);
    });
    if (choice.finish_reason !== 'stop' || ids.length === 0) return out;
    const last = out.tokens[out.tokens.length - 1];
    if (opts.stopTokenIds?.includes(last)) {
      out.finishReason = 'stop';
      return out;
    }
    const stop = matchStopString(out.tokens, opts);
    const inserted =
      stop === undefined ? undefined : await opts.onTurnEnd?.({ request, tokens: out.tokens, stop });
    if (inserted === undefined) {
      out.finishReason = 'stop';
      return out;
    }
    // As the Generator: inserted tokens count toward the length, and the row ends when it is reached.
    for (const id of inserted.slice(0, opts.maxNewTokens - out.tokens.length)) {
      out.tokens.push(id);
      out.logprobs.push(0);
      out.sampled.push(false);
    }
  }
}

/**
 * `work` under a signal of its own, chained to `outer`: the first failure of any task aborts the others
 * (with that failure as the reason) and is what the call rejects with.
 */
async function failingTogether<T>(
  outer: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>[],
): Promise<T[]> {
  const controller = new AbortController();
  // Every request in flight listens for the abort: up to CONCURRENCY per endpoint, not a leak.
  setMaxListeners(0, controller.signal);
  const onOuter = () => controller.abort(outer!.reason);
  if (outer?.aborted) onOuter();
  outer?.addEventListener('abort', onOuter, { once: true });
  try {
    return await Promise.all(
      work(controller.signal).map((p) =>
        p.catch((error: unknown) => {
          if (!controller.signal.aborted) controller.abort(error);
          throw controller.signal.reason;
        }),
      ),
    );
  } finally {
    outer?.removeEventListener('abort', onOuter);
  }
}

/** The Generator's `generate` over an endpoint: one HTTP request per turn of each response. */
export async function generateFromEndpoint(
  endpoint: Endpoint,
  requests: GenerationRequest[],
  opts: GenerateOptions,
  call: EndpointCall = {},
): Promise<Generation[]> {
  const results = new Array<Generation>(requests.length);
  let next = 0;
  await failingTogether(call.signal, (signal) => {
    const worker = async () => {
      while (next < requests.length && !signal.aborted) {
        const i = next++;
        results[i] = await generateOne(endpoint, requests[i], opts, { ...call, signal });
      }
    };
    return Array.from({ length: Math.min(CONCURRENCY, requests.length) }, worker);
  });
  return results;
}

/**
 * `generateFromEndpoint` spread over several servers of the same policy: request i goes to endpoint
 * i mod E. Each request carries its own RNG coordinates, so which server answers it changes nothing.
 * One server's failure aborts the requests on all of them.
 */
export async function generateFromEndpoints(
  endpoints: readonly Endpoint[],
  requests: GenerationRequest[],
  opts: GenerateOptions,
  call: EndpointCall = {},
): Promise<Generation[]> {
  const parts = endpoints.map((endpoint, e) => ({
    endpoint,
    indices: requests.map((_, i) => i).filter((i) => i % endpoints.length === e),
  }));
  const results = new Array<Generation>(requests.length);
  await failingTogether(call.signal, (signal) =>
    parts.map(async ({ endpoint, indices }) => {
      if (!indices.length) return;
      const outs = await generateFromEndpoint(
        endpoint,
        indices.map((i) => requests[i]),
        opts,
        { ...call, signal },
      );
      outs.forEach((o, j) => (results[indices[j]] = o));
    }),
  );
  return results;
}
