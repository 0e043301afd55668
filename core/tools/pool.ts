/**
 * A pool of warm sandbox processes behind one `run(code)`: a snippet waits for a free slot, runs, and a
 * slot whose process was killed (time limit, crash) starts a fresh one in the background.
 */
import { isolationProblem, IsolationUnavailableError, poolUid, type IsolationMode } from './isolation.ts';
import { resolveLimits, type SandboxLimits } from './limits.ts';
import { jailSpec, type Backend, type RuntimeOptions } from './runtimes.ts';
import { SandboxProcess, type SnippetResult } from './sandboxProcess.ts';
import { emptyToolMetrics, recordToolCall, type ToolMetrics } from './metrics.ts';

/** Warm processes per pool unless told otherwise: one per core on the 2-core machines we target. */
export const DEFAULT_POOL_SIZE = 2;
/**
 * Characters of output the sandbox sends back, whatever the output limit: enough for any truncation we
 * apply (the output block keeps far fewer), small enough that printing 10 MB costs only the count.
 */
export const CAPTURE_CHARS = 16_384;

/**
 * Attempts to start a process before giving up. A start can fail for a moment right after a kill (the
 * killed jail's processes still hold the sandbox user's process allowance while the kernel reaps them).
 */
const START_ATTEMPTS = 4;
const START_RETRY_MS = 250;

async function startWithRetry(start: () => Promise<SandboxProcess>): Promise<SandboxProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= START_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, START_RETRY_MS * attempt));
    }
  }
}

export interface SandboxOptions extends RuntimeOptions {
  backend?: Backend;
  limits?: Partial<SandboxLimits>;
  /** Warm processes (each runs one snippet at a time). */
  size?: number;
  /** `none-unsafe` runs model code without isolation; only for trusted code or a host that cannot isolate. */
  isolation?: IsolationMode;
}

/** What every consumer of the sandbox (the tool protocol, the CLI, the benchmark) uses. */
export interface Sandbox {
  readonly backend: Backend;
  readonly limits: SandboxLimits;
  /** Runs one snippet under the limits; never rejects for anything the snippet does. */
  run(code: string, opts?: { timeoutMs?: number }): Promise<SnippetResult>;
  metrics(): ToolMetrics;
  close(): Promise<void>;
}

interface Slot {
  proc: SandboxProcess | undefined;
  starting: Promise<SandboxProcess> | undefined;
}

export class SandboxPool implements Sandbox {
  private readonly waiting: Array<(slot: Slot) => void> = [];
  private readonly idle: Slot[] = [];
  private readonly stats: ToolMetrics = emptyToolMetrics();
  private closed = false;

  private constructor(
    readonly backend: Backend,
    readonly limits: SandboxLimits,
    private readonly start: () => Promise<SandboxProcess>,
    private readonly slots: Slot[],
  ) {}

  /**
   * Checks isolation (throws IsolationUnavailableError when the host cannot isolate and the caller did not
   * opt out), then starts `size` processes and waits until they are warm.
   */
  static async create(opts: SandboxOptions = {}): Promise<SandboxPool> {
    const backend = opts.backend ?? 'pyodide';
    const limits = resolveLimits(opts.limits);
    const size = opts.size ?? DEFAULT_POOL_SIZE;
    if (!(Number.isInteger(size) && size > 0))
      throw new Error(`sandbox.size must be a positive integer (got ${size})`);
    const mode = opts.isolation ?? 'bwrap';
    if (mode === 'bwrap') {
      const problem = isolationProblem();
      if (problem) throw new IsolationUnavailableError(problem);
    } else {
      process.emitWarning(
        'sandbox: isolation is OFF (none-unsafe): model-written code runs with resource limits only and can ' +
          'read and write your files and reach the network',
      );
    }
    const spec = jailSpec(backend, opts);
    const uid = poolUid();
    const start = () => startWithRetry(() => SandboxProcess.start(spec, limits, mode, uid));
    const slots: Slot[] = Array.from({ length: size }, () => ({ proc: undefined, starting: undefined }));
    const pool = new SandboxPool(backend, limits, start, slots);
    await Promise.all(slots.map((s) => pool.ensure(s)));
    pool.idle.push(...slots);
    return pool;
  }

  async run(code: string, opts: { timeoutMs?: number } = {}): Promise<SnippetResult> {
    if (this.closed) throw new Error('sandbox: the pool is closed');
    const timeoutMs = opts.timeoutMs ?? this.limits.wallTimeMs;
    const slot = await this.acquire();
    try {
      const proc = await this.ensure(slot);
      const result = await proc.run(code, timeoutMs, CAPTURE_CHARS);
      recordToolCall(this.stats, result);
      // A killed process is replaced now, so the next snippet finds it warm.
      if (!proc.alive) void this.ensure(slot).catch(() => undefined);
      return result;
    } finally {
      this.release(slot);
    }
  }

  metrics(): ToolMetrics {
    return { ...this.stats };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.slots) {
      const proc = slot.proc ?? (await slot.starting?.catch(() => undefined));
      proc?.kill();
    }
  }

  /** The slot's live process, starting one if it has none (or its last one died). */
  private ensure(slot: Slot): Promise<SandboxProcess> {
    if (slot.proc?.alive) return Promise.resolve(slot.proc);
    if (!slot.starting) {
      this.stats.restarts += slot.proc ? 1 : 0;
      slot.proc = undefined;
      slot.starting = this.start().then(
        (proc) => {
          slot.starting = undefined;
          if (this.closed) proc.kill();
          slot.proc = proc;
          return proc;
        },
        (err: unknown) => {
          slot.starting = undefined;
          throw err;
        },
      );
    }
    return slot.starting;
  }

  private acquire(): Promise<Slot> {
    const slot = this.idle.shift();
    if (slot) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.idle.push(slot);
  }
}
