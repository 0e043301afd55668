/**
 * One JSON request to an inference server, on Node's own `http`/`https` rather than `fetch`: Node 20's fetch
 * gives up on a response whose headers take over 5 minutes (undici's headersTimeout), and a non-streamed
 * completion sends its headers only once the last token is drawn — a long chain of thought takes longer; a
 * weight-sync call answers only once a large checkpoint is loaded, which can take longer too.
 * Here the caller's timeout is the only one, and the caller's signal aborts the request (closing the socket,
 * which makes `reasonloop serve` stop decoding it).
 *
 * A request that gets no HTTP answer (refused, reset, the server killed mid-request, timed out) raises
 * EndpointUnreachableError naming the URL and the socket's error code; an answer of any status is returned.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** No HTTP answer from `url`: the server is down, was killed, or did not answer in time. */
export class EndpointUnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly code: string,
  ) {
    super(`rollout endpoint ${url} unreachable: ${code}`);
    this.name = 'EndpointUnreachableError';
  }
}

export interface JsonAnswer {
  status: number;
  text: string;
}

export interface PostOptions {
  headers?: Record<string, string>;
  /** Aborts the request; the error is EndpointUnreachableError only for the timeout. */
  signal?: AbortSignal;
  /** Milliseconds from the request's start to the end of its answer. */
  timeoutMs: number;
}

/** POSTs `body` as JSON to `url` and reads the whole answer as text. */
export function postJson(url: string, body: unknown, opts: PostOptions): Promise<JsonAnswer> {
  return requestJson('POST', url, body, opts);
}

/**
 * Sends `method` to `url` with `body` as JSON (none when undefined: a POST then has an empty body) and
 * reads the whole answer as text.
 */
export function requestJson(
  method: 'GET' | 'POST',
  url: string,
  body: unknown,
  opts: PostOptions,
): Promise<JsonAnswer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise<JsonAnswer>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason as Error);
    let settled = false;
    const settle = (error: Error | undefined, answer?: JsonAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(answer!);
    };
    const req = send(url, {
      method,
      headers: {
        ...(payload ? { 'content-type': 'application/json' } : {}),
        ...(payload || method === 'POST' ? { 'content-length': payload?.length ?? 0 } : {}),
        ...opts.headers,
      },
    });
    const onAbort = () => {
      settle(opts.signal!.reason as Error);
      req.destroy();
    };
    const timer = setTimeout(() => {
      settle(new EndpointUnreachableError(url, `no answer within ${opts.timeoutMs / 1000} s`));
      req.destroy();
    }, opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error: NodeJS.ErrnoException) =>
      settle(new EndpointUnreachableError(url, error.code ?? error.message)),
    );
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      // A server killed while sending its answer: the body ends early, the socket errors.
      res.on('error', (error: NodeJS.ErrnoException) =>
        settle(new EndpointUnreachableError(url, error.code ?? error.message)),
      );
      res.on('aborted', () => settle(new EndpointUnreachableError(url, 'ECONNRESET')));
      res.on('end', () =>
        settle(undefined, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.end(payload);
  });
}
