import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isPortOpen, LOOPBACK, pollUntil, sleep } from './ports.ts';

/** A server process started by this package, identified by pid and the ports it must free when it stops. */
export interface DaemonProcess {
  name: string;
  pid: number;
  command: string;
  ports: number[];
  logFile: string;
}

export interface DaemonSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Every port the server binds; each must be free before the start and free again after a stop. */
  ports: number[];
  logFile: string;
  /** Detached servers outlive this process (the test command's shared stack); others die with it. */
  detached?: boolean;
  ready: () => Promise<boolean>;
  readyTimeoutMs: number;
}

/** Poll interval while waiting for a server to become ready or to go away. */
const POLL_INTERVAL_MS = 100;
/** How long a server gets to exit after SIGTERM before SIGKILL (the Temporal dev server drains in ~1-3 s). */
export const STOP_GRACE_MS = 10_000;
/** How long after the process is gone its ports may keep answering (kernel socket teardown). */
const PORT_RELEASE_TIMEOUT_MS = 5_000;

const owned = new Map<number, ChildProcess>();
let exitHookInstalled = false;

/** Non-detached servers must not outlive a test process that exits without stopping them. */
function killOwnedOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of owned.values()) child.kill('SIGKILL');
  });
}

async function logTail(path: string, lines = 20): Promise<string> {
  try {
    const text = (await readFile(path, 'utf8')).trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Whether `pid` is alive and runs `command` (checked through /proc where there is one), so a stale pid
 * file never leads us to signal an unrelated process that reused the pid.
 */
export async function isOurProcess(pid: number, command: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false; // exited, not yet reaped
    const argv0 = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')[0];
    return argv0 === command;
  } catch {
    return process.platform !== 'linux';
  }
}

/**
 * Starts a server and waits until `ready` says yes. Refuses to start when one of its ports already
 * answers: a second server that cannot bind exits, and the old one (with its old settings and data) would
 * keep answering the health check — the trap DESIGN.md §4 warns about.
 */
export async function startDaemon(spec: DaemonSpec): Promise<DaemonProcess> {
  for (const port of spec.ports) {
    if (await isPortOpen(port)) {
      throw new Error(
        `${spec.name}: port ${LOOPBACK}:${port} is already in use; stop whatever listens there first`,
      );
    }
  }
  await mkdir(dirname(spec.logFile), { recursive: true });
  const log = openSync(spec.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(spec.command, spec.args, {
      env: spec.env ?? process.env,
      stdio: ['ignore', log, log],
      detached: spec.detached ?? false,
    });
  } finally {
    closeSync(log);
  }
  let exited: string | undefined;
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  child.once('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `exit code ${code}`));
  const ready = await pollUntil(
    async () => exited !== undefined || spawnError !== undefined || (await spec.ready()),
    spec.readyTimeoutMs,
    POLL_INTERVAL_MS,
  );
  const failure = spawnError
    ? `could not run ${spec.command}: ${spawnError.message}`
    : exited !== undefined
      ? `exited during start-up (${exited})`
      : !ready
        ? `did not become ready within ${spec.readyTimeoutMs / 1000} s`
        : undefined;
  if (failure || child.pid === undefined) {
    child.kill('SIGKILL');
    throw new Error(
      `${spec.name} ${failure ?? 'has no pid'}; command: ${spec.command} ${spec.args.join(' ')}\n` +
        `last lines of ${spec.logFile}:\n${await logTail(spec.logFile)}`,
    );
  }
  if (spec.detached) child.unref();
  else {
    owned.set(child.pid, child);
    child.once('exit', () => owned.delete(child.pid!));
    killOwnedOnExit();
  }
  return { name: spec.name, pid: child.pid, command: spec.command, ports: spec.ports, logFile: spec.logFile };
}

/**
 * Stops a server and returns only once the process is gone and its ports are closed, so a restart on
 * the same ports cannot be answered by the old instance. `force` sends SIGKILL at once (crash tests).
 */
export async function stopDaemon(daemon: DaemonProcess, options: { force?: boolean } = {}): Promise<void> {
  const gone = async () => !(await isOurProcess(daemon.pid, daemon.command));
  if (!(await gone())) {
    const send = (signal: NodeJS.Signals) => {
      try {
        process.kill(daemon.pid, signal);
      } catch {
        // already gone
      }
    };
    if (!options.force) {
      send('SIGTERM');
      if (!(await pollUntil(gone, STOP_GRACE_MS, POLL_INTERVAL_MS))) send('SIGKILL');
    } else send('SIGKILL');
    if (!(await pollUntil(gone, STOP_GRACE_MS, POLL_INTERVAL_MS))) {
      throw new Error(`${daemon.name} (pid ${daemon.pid}) is still running after SIGKILL`);
    }
  }
  for (const port of daemon.ports) {
    const closed = await pollUntil(
      async () => !(await isPortOpen(port)),
      PORT_RELEASE_TIMEOUT_MS,
      POLL_INTERVAL_MS,
    );
    if (!closed) {
      throw new Error(
        `${daemon.name} stopped but port ${LOOPBACK}:${port} still answers (another server is on it)`,
      );
    }
  }
  await sleep(0);
}
