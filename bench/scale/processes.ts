/**
 * The bench's child processes — one Temporal worker per role, the `reasonloop` CLI — each with its output in
 * a log file and its peak resident memory read from the kernel (VmHWM) while it lives, so a worker killed on
 * purpose still reports its peak.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BenchProcess {
  readonly label: string;
  readonly child: ChildProcess;
  /** Peak RSS so far in GB (the last reading once the process has exited). */
  peakGB(): number;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** VmHWM of a live process, in GB; undefined once it is gone. */
function highWaterGB(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? (Number(m[1]) * 1024) / 1e9 : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `node --import tsx <script> ...args` from the repository root with `env` added. */
export function startNode(
  label: string,
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  logFile: string,
): BenchProcess {
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log],
  });
  let peak = 0;
  const sample = () => {
    const now = child.pid === undefined ? undefined : highWaterGB(child.pid);
    if (now !== undefined) peak = Math.max(peak, now);
  };
  const timer = setInterval(sample, 1000);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve(code);
    }),
  );
  return {
    label,
    child,
    peakGB: () => (sample(), peak),
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      sample();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A worker process of the given roles (workers/main.ts). */
export function startWorker(roles: string, env: Record<string, string>, logFile: string): BenchProcess {
  return startNode(roles, 'workers/main.ts', ['--roles', roles], env, logFile);
}
