/**
 * `reasonloop serve`'s HTTP server: OpenAI's `/v1/completions`, `/v1/chat/completions` and `/v1/models`,
 * `/health`, and the admin endpoints that load another checkpoint (`POST /admin/load`) and report the
 * loaded one (`GET /admin/version`). Requests share one continuous batch (batcher.ts); rows beyond the
 * queue bound are refused with 503 before anything is queued. `close()` stops accepting, refuses what is
 * queued, lets running rows finish, and releases the session.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ContinuousBatcher, ShuttingDown } from './batcher.ts';
import { chatCompletions, completions, type GenerationContext } from './completions.ts';
import { errorBody, readJsonBody, sendError, sendJson } from './http.ts';
import { RequestError } from './openaiRequest.ts';
import { versionName, type Policy, type PolicyVersion } from './policy.ts';

export interface ServeOptions {
  /** The id clients name in `model` (and `/v1/models` lists). */
  modelName: string;
  maxBatch: number;
  maxQueue: number;
  kvBudgetBytes: number;
  /** Loads another policy for `POST /admin/load` ({run, step?} from the server's store, or {model_path}). */
  load: (what: LoadRequest) => Promise<Policy>;
  log?: (line: string) => void;
}

export type LoadRequest = { run: string; step?: number } | { modelPath: string };

export class ServeApp implements GenerationContext {
  readonly server: Server;
  readonly batcher: ContinuousBatcher;
  closing = false;
  private loading = false;
  private loadedAt = new Date().toISOString();
  private closed: Promise<void> | undefined;

  constructor(
    public policy: Policy,
    private readonly options: ServeOptions,
  ) {
    this.batcher = new ContinuousBatcher(policy.exec, policy.config, {
      maxBatch: options.maxBatch,
      kvBudgetBytes: options.kvBudgetBytes,
      padTokenId: policy.padTokenId,
      // Read at each call: a swapped-in checkpoint brings its own tokenizer.
      decode: (ids) => this.policy.tokenizer?.decode(ids) ?? '',
    });
    this.server = createServer((req, res) => void this.route(req, res));
  }

  get modelName(): string {
    return this.options.modelName;
  }

  get maxQueue(): number {
    return this.options.maxQueue;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve(this.server.address() as AddressInfo));
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    // A client that goes away drops its rows at the next step boundary.
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      const route = `${req.method} ${path}`;
      switch (route) {
        case 'GET /health':
          return sendJson(res, this.closing ? 503 : 200, this.health());
        case 'GET /v1/models':
          return sendJson(res, 200, this.models());
        case 'POST /v1/completions':
          return await completions(this, await readJsonBody(req), res, abort.signal);
        case 'POST /v1/chat/completions':
          return await chatCompletions(this, await readJsonBody(req), res, abort.signal);
        case 'GET /admin/version':
          return sendJson(res, 200, this.version());
        case 'POST /admin/load':
          return sendJson(res, 200, await this.load(await readJsonBody(req)));
      }
      const known = [
        '/health',
        '/v1/models',
        '/v1/completions',
        '/v1/chat/completions',
        '/admin/version',
        '/admin/load',
      ];
      if (known.includes(path)) throw new RequestError(`${req.method} is not allowed on ${path}`, null, 405);
      throw new RequestError(`no route ${path}`, null, 404, 'NotFoundError');
    } catch (error) {
      this.answerError(res, error);
    }
  }

  private answerError(res: ServerResponse, error: unknown): void {
    const e =
      error instanceof RequestError
        ? error
        : error instanceof RangeError
          ? new RequestError(error.message)
          : error instanceof ShuttingDown
            ? new RequestError(error.message, null, 503, 'server_unavailable')
            : new RequestError((error as Error).message, null, 500, 'internal_error');
    if (e.status === 500) this.options.log?.(`error: ${(error as Error).stack ?? e.message}`);
    if (!res.headersSent) return sendError(res, e);
    // Mid-stream: an error event, then the stream ends.
    if (!res.writableEnded) {
      res.write(`data: ${JSON.stringify(errorBody(e))}\n\n`);
      res.end();
    }
  }

  private health() {
    return {
      status: this.closing ? 'shutting down' : 'ok',
      model: this.modelName,
      version: this.policy.version,
      queued: this.batcher.queued,
      running: this.batcher.inFlight,
      stats: this.batcher.stats,
    };
  }

  private models() {
    return {
      object: 'list',
      data: [
        {
          id: this.modelName,
          object: 'model',
          created: Math.floor(Date.parse(this.loadedAt) / 1000),
          owned_by: 'reasonloop',
          root: versionName(this.policy.version),
          max_model_len: this.policy.config.maxPositionEmbeddings,
        },
      ],
    };
  }

  private version() {
    return { version: this.policy.version, name: versionName(this.policy.version), loaded_at: this.loadedAt };
  }

  /** Loads the checkpoint asked for, then swaps it in between decode steps; answers the version now loaded. */
  private async load(
    body: unknown,
  ): Promise<{ previous: PolicyVersion; loaded: PolicyVersion; name: string }> {
    const what = parseLoad(body);
    if (this.closing) throw new RequestError('the server is shutting down', null, 503, 'server_unavailable');
    if (this.loading) throw new RequestError('another load is under way', null, 409, 'conflict');
    this.loading = true;
    try {
      let next: Policy;
      try {
        next = await this.options.load(what);
      } catch (error) {
        throw new RequestError(`cannot load ${JSON.stringify(body)}: ${(error as Error).message}`, null, 400);
      }
      if (JSON.stringify(next.config) !== JSON.stringify(this.policy.config)) {
        await next.exec.release();
        await next.dispose();
        throw new RequestError(
          'the checkpoint has another architecture (config.json): start another server for it',
        );
      }
      const previous = this.policy;
      const old = await this.batcher.swap(next.exec);
      this.policy = next;
      this.loadedAt = new Date().toISOString();
      await old.release();
      await previous.dispose();
      this.options.log?.(`loaded ${versionName(next.version)} (was ${versionName(previous.version)})`);
      return { previous: previous.version, loaded: next.version, name: versionName(next.version) };
    } finally {
      this.loading = false;
    }
  }

  /** Stops accepting, refuses queued rows (503), lets running ones finish, then releases the session. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      const stopped = new Promise<void>((r) => this.server.close(() => r()));
      await this.batcher.close();
      // Streams and answers of the rows that ran are written by now; idle keep-alive sockets go.
      this.server.closeIdleConnections();
      await stopped;
      await this.policy.exec.release();
      await this.policy.dispose();
    })();
    return this.closed;
  }
}

function parseLoad(body: unknown): LoadRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.model_path === 'string') return { modelPath: b.model_path };
  if (typeof b.key === 'string') {
    // A checkpoint's store key: its step prefix or any object in it (runs/R/steps/000040/manifest.json).
    const m = /^runs\/([^/]+)\/steps\/(\d+)(\/.*)?$/.exec(b.key);
    if (!m) throw new RequestError(`key ${b.key} is not a checkpoint key (runs/RUN/steps/STEP/…)`, 'key');
    return { run: m[1], step: Number(m[2]) };
  }
  if (typeof b.run !== 'string')
    throw new RequestError(
      'give {"run": RUN_ID, "step"?: S}, {"key": "runs/R/steps/S/"} or {"model_path": DIR}',
      'run',
    );
  if (b.step !== undefined && !(Number.isSafeInteger(b.step) && (b.step as number) >= 0))
    throw new RequestError(`step must be a whole number ≥ 0 (got ${JSON.stringify(b.step)})`, 'step');
  return { run: b.run, step: b.step as number | undefined };
}
