/**
 * The HTTP plumbing the server needs from Node's own `http` module: a JSON body with a size limit, JSON
 * answers, OpenAI's error shape, and server-sent events (`data: {...}` lines, `data: [DONE]` at the end).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestError } from './openaiRequest.ts';

/** Largest request body read (a prompt of token ids is ~8 bytes a token). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new RequestError(`request body over ${MAX_BODY_BYTES} bytes`, null, 413);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RequestError(`the body is not valid JSON (${(error as Error).message})`);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** OpenAI's error object: `{error: {message, type, param, code}}`. */
export function errorBody(error: RequestError) {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.status } };
}

export function sendError(res: ServerResponse, error: RequestError): void {
  const headers: Record<string, string> = error.status === 503 ? { 'retry-after': '1' } : {};
  sendJson(res, error.status, errorBody(error), headers);
}

/** A server-sent-event stream of JSON chunks. */
export class EventStream {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
  }

  /** Whether the client is still there to read. */
  private get open(): boolean {
    return !this.res.writableEnded && !this.res.destroyed;
  }

  send(chunk: unknown): void {
    if (this.open) this.res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }

  done(): void {
    if (!this.open) return;
    this.res.write('data: [DONE]\n\n');
    this.res.end();
  }
}
