/**
 * One warm sandbox process: a jailed interpreter that runs snippets one at a time over a JSON-lines pipe,
 * with the host's wall-clock kill behind the interpreter's own interrupt.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { KILL_GRACE_MS, type SandboxLimits } from './limits.ts';
import { jailCommand, type IsolationMode, type JailSpec } from './isolation.ts';

/**
 * How long a fresh process may take to say it is ready. Pyodide's cold start is ≈1.5 s on an idle core
 * (DESIGN.md §4) and was seen at ≈10 s on a loaded 2-core machine.
 */
export const START_TIMEOUT_MS = 60_000;
/** Characters of a sandbox process's own stderr kept to explain a crash. */
const STDERR_TAIL_CHARS = 2_000;

/** Why a snippet failed: a Python exception, the time limit, memory, or the process itself died. */
export type ErrorKind = 'exception' | 'timeout' | 'memory' | 'crash';

export interface SnippetResult {
  /** stdout and stderr of the snippet, interleaved, up to the capture cap. */
  stdout: string;
  /** How many characters it printed in all. */
  stdoutChars: number;
  /** Python's traceback (or our explanation), or null when the snippet finished cleanly. */
  error: string | null;
  errorKind: ErrorKind | null;
  /** Wall time seen by the host, queueing excluded. */
  wallMs: number;
}

interface Reply {
  id: number;
  stdout: string;
  stdoutChars: number;
  error?: string | null;
  errorKind?: ErrorKind | null;
}

interface Pending {
  id: number;
  resolve: (r: SnippetResult) => void;
  started: number;
  timeoutMs: number;
  timer: NodeJS.Timeout;
}

export class SandboxProcess {
  private pending: Pending | undefined;
  private nextId = 1;
  private stderrTail = '';
  private exited = false;
  private killedForTime = false;

  private constructor(private readonly child: ChildProcess) {}

  /** Starts a process and waits until its interpreter is loaded. */
  static async start(
    spec: JailSpec,
    limits: SandboxLimits,
    mode: IsolationMode,
    uid: number,
  ): Promise<SandboxProcess> {
    const [cmd, ...args] = jailCommand(spec, limits, mode, uid);
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const proc = new SandboxProcess(child);
    await proc.waitReady();
    return proc;
  }

  get alive(): boolean {
    return !this.exited;
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  private waitReady(): Promise<void> {
    const child = this.child;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    child.stdin!.on('error', () => {
      // The process died; its exit handler reports that.
    });
    return new Promise((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        this.kill();
        reject(new Error(`sandbox: the interpreter did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as { ready?: boolean } & Reply;
        if (msg.ready) {
          ready = true;
          clearTimeout(timer);
          resolve();
        } else this.settle(msg);
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        this.exited = true;
        reject(new Error(`sandbox: cannot start ${child.spawnfile}: ${err.message}`));
      });
      child.on('exit', (code, signal) => {
        this.exited = true;
        clearTimeout(timer);
        if (!ready) {
          const why = this.stderrTail.trim() || `exit ${code ?? signal}`;
          reject(new Error(`sandbox: the interpreter exited before it was ready: ${why}`));
        } else this.settleExit(code, signal);
      });
    });
  }

  /** Runs one snippet; never rejects: every failure becomes an error in the result. */
  run(code: string, timeoutMs: number, captureChars: number): Promise<SnippetResult> {
    if (this.pending) throw new Error('sandbox: a process runs one snippet at a time');
    if (this.exited) throw new Error('sandbox: the process has exited');
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.killedForTime = true;
        this.kill();
      }, timeoutMs + KILL_GRACE_MS);
      this.pending = { id, resolve, started: performance.now(), timeoutMs, timer };
      this.child.stdin!.write(JSON.stringify({ id, code, timeoutMs, captureChars }) + '\n');
    });
  }

  private settle(reply: Reply): void {
    const p = this.pending;
    if (!p || p.id !== reply.id) return;
    // The Pyodide entry point reports a runtime failure and then exits: take it out of service now.
    if (reply.errorKind === 'crash') this.exited = true;
    this.finish({
      stdout: reply.stdout ?? '',
      stdoutChars: reply.stdoutChars ?? 0,
      error: reply.error ?? null,
      errorKind: reply.errorKind ?? null,
    });
  }

  private settleExit(code: number | null, signal: NodeJS.Signals | null): void {
    const p = this.pending;
    if (!p) return;
    if (this.killedForTime) {
      const seconds = p.timeoutMs / 1000;
      this.finish({
        stdout: '',
        stdoutChars: 0,
        error: `TimeoutError: the code ran longer than ${seconds} s and was stopped`,
        errorKind: 'timeout',
      });
      return;
    }
    // V8 prints a stack after its out-of-memory line, so the whole tail is searched, the last lines shown.
    const outOfMemory = /out of memory|cannot allocate|allocation failed/i.test(this.stderrTail);
    const tail = this.stderrTail.trim().split('\n').slice(-3).join('\n');
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    this.finish({
      stdout: '',
      stdoutChars: 0,
      error: outOfMemory
        ? `MemoryError: the sandbox process ran out of memory (${how})`
        : `the sandbox process died (${how})${tail ? `: ${tail}` : ''}`,
      errorKind: outOfMemory ? 'memory' : 'crash',
    });
  }

  private finish(result: Omit<SnippetResult, 'wallMs'>): void {
    const p = this.pending!;
    clearTimeout(p.timer);
    this.pending = undefined;
    p.resolve({ ...result, wallMs: performance.now() - p.started });
  }

  /** SIGKILL to the whole process group (the jail and everything in it). */
  kill(): void {
    if (this.exited || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL');
    }
  }
}
