/**
 * Continuous batching on the KV-cache decode graph: one loop runs a decode step for every row in flight;
 * at each step boundary, rows that finished leave and queued rows join — the joiners are prefilled together
 * in one run, draw their first token, and their cache is packed beside the running rows' (rowCache.ts).
 * A row is one sample of one prompt with its own sampling settings, seed and stops; its draws are
 * `uniformAt(seed, step, prompt, sample, position)` as in the Generator, so its tokens do not depend on
 * which other requests share its batch, nor when it joined.
 */
import type { Executable } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import type { GenerateOptions, Generation } from '../generate/generation.ts';
import { runDecode } from '../generate/kvBuffers.ts';
import { advanceRow, type Row } from '../generate/rows.ts';
import { sampleToken, type SamplingParams } from '../generate/sampling.ts';
import { uniformAt } from '../random.ts';
import { kvBytesPerPosition, RowCache, type RowSource } from './rowCache.ts';
import { topLogprobs, type TokenLogprob } from './topLogprobs.ts';

/** Why a queued row was refused: the server is closing (answered 503). */
export class ShuttingDown extends Error {
  constructor() {
    super('the server is shutting down');
  }
}

/** One sample to generate. */
export interface RowJob {
  promptIds: number[];
  maxNewTokens: number;
  sampling: SamplingParams;
  seed: number;
  /** RNG coordinates besides the seed (0 for a plain request's first prompt and sample). */
  step: number;
  prompt: number;
  sample: number;
  /** Position of the row's first token in the RNG (a continuation's tokens before it); default 0. */
  position?: number;
  stopTokenIds: readonly number[];
  stopStrings: readonly string[];
  /** How many alternatives per token to report (0: none). */
  topLogprobs: number;
  /** Called with each token as it is drawn (streaming). */
  onToken?: (token: EmittedToken) => void;
  /** Aborting drops the row at the next step boundary (a client that went away). */
  signal?: AbortSignal;
}

export interface EmittedToken {
  token: number;
  logprob: number;
  top?: TokenLogprob[];
}

export interface RowResult extends Generation {
  top: TokenLogprob[][] | undefined;
}

export interface BatcherOptions {
  /** Most rows decoded together. */
  maxBatch: number;
  /** Most bytes the packed KV cache may take; a row that alone needs more is refused at submit. */
  kvBudgetBytes: number;
  padTokenId: number;
  /** Detokenizer for stop strings. */
  decode: (ids: number[]) => string;
}

/** Counters for /health and the benchmark. */
export interface BatcherStats {
  steps: number;
  prefills: number;
  joins: number;
  tokens: number;
  largestBatch: number;
}

interface Pending {
  job: RowJob;
  resolve: (r: RowResult) => void;
  reject: (e: Error) => void;
}

interface Running extends Pending {
  /** The row's index in the packed cache. */
  slot: number;
  row: Row;
  opts: GenerateOptions;
  top: TokenLogprob[][] | undefined;
}

export class ContinuousBatcher {
  private pending: Pending[] = [];
  private running: Running[] = [];
  private cache: RowCache | undefined;
  /** Membership changed since the cache was packed. */
  private dirty = false;
  private wake: (() => void) | undefined;
  /** A session to switch to once no row is running, and who waits for the switch. */
  private swapping: { exec: Executable; done: (old: Executable) => void } | undefined;
  private closed = false;
  private readonly loop: Promise<void>;
  readonly stats: BatcherStats = { steps: 0, prefills: 0, joins: 0, tokens: 0, largestBatch: 0 };

  constructor(
    private exec: Executable,
    private readonly config: Qwen2Config,
    private readonly options: BatcherOptions,
  ) {
    this.loop = this.run();
  }

  /** Rows waiting to join. */
  get queued(): number {
    return this.pending.length;
  }

  /** Rows being decoded. */
  get inFlight(): number {
    return this.running.length;
  }

  /** Bytes of KV cache one row needs at most; more than the budget is refused before queueing. */
  rowBytes(job: Pick<RowJob, 'promptIds' | 'maxNewTokens'>): number {
    return (job.promptIds.length + job.maxNewTokens) * kvBytesPerPosition(this.config);
  }

  submit(job: RowJob): Promise<RowResult> {
    if (this.closed) return Promise.reject(new ShuttingDown());
    const bytes = this.rowBytes(job);
    if (bytes > this.options.kvBudgetBytes)
      return Promise.reject(
        new RangeError(
          `prompt (${job.promptIds.length} tokens) + max_tokens (${job.maxNewTokens}) needs ${bytes} bytes of KV cache, over the server's budget of ${this.options.kvBudgetBytes}`,
        ),
      );
    return new Promise((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      this.wake?.();
    });
  }

  /**
   * Swaps the decode session between steps: no new row joins, the running ones finish on the old weights,
   * then queued rows run on `exec`. Returns the old session (the caller releases it).
   */
  swap(exec: Executable): Promise<Executable> {
    if (this.swapping) return Promise.reject(new Error('a weight swap is already under way'));
    return new Promise((done) => {
      this.swapping = { exec, done };
      this.wake?.();
    });
  }

  /** Refuses queued rows, lets running ones finish, and ends the loop. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.pending.splice(0)) p.reject(new ShuttingDown());
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.swapping && this.running.length === 0) {
        const old = this.exec;
        this.exec = this.swapping.exec;
        this.swapping.done(old);
        this.swapping = undefined;
      }
      try {
        await this.admit();
        if (this.running.length === 0) {
          if (this.closed && this.pending.length === 0) return;
          if (this.pending.length > 0) continue;
          await new Promise<void>((r) => (this.wake = r));
          this.wake = undefined;
          continue;
        }
        await this.step();
      } catch (error) {
        // A failed run fails the rows it held; the loop goes on with a fresh cache.
        for (const r of this.running.splice(0)) r.reject(error as Error);
        this.cache = undefined;
      }
      this.settle();
    }
  }

  /** Takes queued rows that fit (batch size, KV budget), prefills them and packs the cache. */
  private async admit(): Promise<void> {
    const joiners: Pending[] = [];
    if (!this.swapping) {
      let longest = Math.max(0, ...this.running.map((r) => this.cache!.rowLengths[r.slot]));
      let headroom = Math.max(0, ...this.running.map(remaining));
      while (this.pending.length > 0 && this.running.length + joiners.length < this.options.maxBatch) {
        const next = this.pending[0];
        const len = Math.max(longest, next.job.promptIds.length);
        const room = Math.max(headroom, next.job.maxNewTokens);
        const rows = this.running.length + joiners.length + 1;
        if (rows * (len + room) * kvBytesPerPosition(this.config) > this.options.kvBudgetBytes) break;
        joiners.push(this.pending.shift()!);
        longest = len;
        headroom = room;
      }
    }
    const sources: RowSource[] = this.running.map((r) => ({ cache: this.cache!, row: r.slot }));
    const live = joiners.filter((p) => !p.job.signal?.aborted);
    for (const p of joiners) if (p.job.signal?.aborted) p.reject(new Error('the client went away'));
    if (live.length > 0) {
      let prefilled;
      try {
        prefilled = await this.prefill(live);
      } catch (error) {
        for (const p of live) p.reject(error as Error);
        throw error;
      }
      const { cache, rows } = prefilled;
      rows.forEach((r, b) => {
        if (r.row.done) return this.finish(r);
        this.running.push(r);
        sources.push({ cache, row: b });
      });
      this.dirty = true;
    }
    if (this.dirty && this.running.length > 0) {
      this.cache = RowCache.repack(this.config, sources, Math.max(...this.running.map(remaining)));
      this.running.forEach((r, b) => (r.slot = b));
      this.stats.largestBatch = Math.max(this.stats.largestBatch, this.running.length);
    }
    this.dirty = false;
  }

  /** One run over the joiners' left-padded prompts; each draws its first token from the run's logits. */
  private async prefill(joiners: Pending[]): Promise<{ cache: RowCache; rows: Running[] }> {
    const c = this.config;
    const B = joiners.length;
    const width = Math.max(...joiners.map((p) => p.job.promptIds.length));
    const ids = new BigInt64Array(B * width).fill(BigInt(this.options.padTokenId));
    const pos = new BigInt64Array(B * width).fill(1n);
    const mask = new BigInt64Array(B * width);
    joiners.forEach((p, b) => {
      const prompt = p.job.promptIds;
      const offset = width - prompt.length;
      prompt.forEach((id, t) => {
        ids[b * width + offset + t] = BigInt(id);
        pos[b * width + offset + t] = BigInt(t);
        mask[b * width + offset + t] = 1n;
      });
    });
    // The graph reads the first (mask width − new) = 0 positions of the past: one zero column suffices.
    const empty = RowCache.empty(c, B, 1);
    const out = await runDecode(
      this.exec,
      {},
      empty.feeds(),
      ids,
      pos,
      { data: mask, dims: [B, width] },
      width,
      this.exec.outputNames,
    );
    this.stats.prefills++;
    this.stats.joins += B;
    const cache = RowCache.fromPrefill(
      c,
      out,
      width,
      joiners.map((p) => p.job.promptIds.length),
    );
    const rows = joiners.map((p) => this.startRow(p));
    await this.draw(rows, out.logits.data as Float32Array);
    return { cache, rows };
  }

  private startRow(p: Pending): Running {
    const j = p.job;
    const row: Row = {
      request: { promptIds: j.promptIds, prompt: j.prompt, sample: j.sample },
      out: { tokens: [], logprobs: [], sampled: [], finishReason: 'length' },
      done: false,
      forced: [],
      position: j.promptIds.length,
    };
    const opts: GenerateOptions = {
      maxNewTokens: j.maxNewTokens,
      sampling: j.sampling,
      seed: j.seed,
      step: j.step,
      stopTokenIds: j.stopTokenIds,
      stopStrings: j.stopStrings,
      decode: this.options.decode,
    };
    return { ...p, slot: -1, row, opts, top: j.topLogprobs > 0 ? [] : undefined };
  }

  /** Draws each row's next token from its logits row (batch order = `rows` order). */
  private async draw(rows: Running[], logits: Float32Array): Promise<void> {
    const V = this.config.vocabSize;
    for (const [b, r] of rows.entries()) {
      const row = logits.subarray(b * V, (b + 1) * V);
      // rowUniform's draw, shifted by the job's position (a continuation's tokens before it).
      const j = r.job;
      const u = uniformAt(j.seed, j.step, j.prompt, j.sample, (j.position ?? 0) + r.row.out.tokens.length);
      await advanceRow(r.row, () => sampleToken(row, j.sampling, u), r.opts);
      const i = r.row.out.tokens.length - 1;
      const top = r.top ? topLogprobs(row, r.job.topLogprobs, r.job.sampling.temperature) : undefined;
      if (top) r.top!.push(top);
      this.stats.tokens++;
      r.job.onToken?.({ token: r.row.out.tokens[i], logprob: r.row.out.logprobs[i], top });
    }
  }

  /** One decode run: every running row feeds its last token and draws the next. */
  private async step(): Promise<void> {
    const cache = this.cache!;
    const B = this.running.length;
    const ids = new BigInt64Array(B);
    const pos = new BigInt64Array(B);
    this.running.forEach((r, b) => {
      ids[b] = BigInt(r.row.out.tokens[r.row.out.tokens.length - 1]);
      pos[b] = BigInt(r.row.position++);
    });
    const out = await runDecode(
      this.exec,
      {},
      cache.feeds(),
      ids,
      pos,
      cache.maskWithNext(),
      1,
      this.exec.outputNames,
    );
    cache.appendOne(out);
    this.stats.steps++;
    await this.draw(this.running, out.logits.data as Float32Array);
  }

  /** Finished and abandoned rows leave; the cache is repacked before the next step. */
  private settle(): void {
    const kept = this.running.filter((r) => {
      if (r.row.done) this.finish(r);
      else if (r.job.signal?.aborted) r.reject(new Error('the client went away'));
      else return true;
      return false;
    });
    if (kept.length !== this.running.length) this.dirty = true;
    this.running = kept;
    if (kept.length === 0) this.cache = undefined;
  }

  private finish(r: Running): void {
    r.resolve({ ...r.row.out, top: r.top });
  }
}

/** Positions a row may still feed: one per token it may still draw. */
function remaining(r: Running): number {
  return r.opts.maxNewTokens - r.row.out.tokens.length;
}
