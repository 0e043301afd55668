/**
 * The jail every sandbox process runs in: bubblewrap with all namespaces unshared (no network, no host
 * processes, no host files beyond read-only binds of the interpreter), a tmpfs scratch, `prlimit` limits,
 * and — when the host runs as root — an unprivileged uid, so that the process limit applies (the kernel
 * exempts root from RLIMIT_NPROC) and the user namespace is an unprivileged one.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { SandboxLimits } from './limits.ts';

/** `bwrap` isolates (the default); `none-unsafe` runs model code with limits but without isolation. */
export type IsolationMode = 'bwrap' | 'none-unsafe';

/** One read-only bind: a host path and where it appears inside the jail. */
export interface Bind {
  host: string;
  jail: string;
}

/** What a backend needs inside the jail. */
export interface JailSpec {
  /** The interpreter as seen inside the jail (binds map it there). */
  command: string[];
  binds: Bind[];
  /** RLIMIT_AS suits CPython; V8 reserves far more address space than it uses, so Node gets RLIMIT_DATA. */
  memoryLimit: 'as' | 'data';
  /** Added to limits.memoryBytes: what the runtime itself reserves before any Python runs. */
  memoryOverheadBytes: number;
  /** The same program outside a jail (for `none-unsafe`). */
  unjailedCommand: string[];
  /**
   * Whether the backend can start processes (CPython can fork; Pyodide cannot): such a backend must run
   * as the unprivileged sandbox user, the only way the process limit holds on a root host.
   */
  canFork: boolean;
}

/** Size of each writable folder (tmpfs): the scratch working directory and /tmp. */
export const SCRATCH_BYTES = 64 * 1024 ** 2;
/** Largest file a snippet may write (RLIMIT_FSIZE); scratch bounds the total. */
export const MAX_FILE_BYTES = 16 * 1024 ** 2;
/**
 * CPU seconds over a sandbox process's whole life (RLIMIT_CPU): a backstop behind the per-snippet wall
 * clock. A process that reaches it is killed and the pool starts a fresh one.
 */
export const PROCESS_CPU_SECONDS = 3600;
/** Where scratch appears inside the jail (also HOME and the working directory). */
export const SCRATCH_DIR = '/scratch';
/**
 * First uid of the unprivileged users sandboxes run as when the host runs as root. High enough to be
 * unused on ordinary systems; each pool takes its own so that its process limit is its own.
 */
const SANDBOX_UID_BASE = 1_900_000;

const INSTALL_HINT =
  'install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`)';

/** The host cannot isolate model code; the message says what is missing and how to fix it. */
export class IsolationUnavailableError extends Error {
  constructor(reason: string) {
    super(
      `sandbox: cannot isolate model-written code: ${reason}. Refusing to run it. Either ${INSTALL_HINT} ` +
        'and make sure user namespaces are enabled, or opt out explicitly with isolation "none-unsafe" ' +
        '(`--unsafe-no-isolation`), which runs model code with resource limits only.',
    );
  }
}

/** The absolute path of a program on PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const isRoot = () => process.getuid?.() === 0;

let probed: string | undefined | null = null;
/**
 * Why the host cannot isolate (a missing program, or bwrap that cannot create namespaces), or undefined
 * when it can. Probes once per process by running `true` in a minimal jail.
 */
export function isolationProblem(): string | undefined {
  if (probed !== null) return probed;
  probed = probeIsolation();
  return probed;
}

function probeIsolation(): string | undefined {
  if (process.platform !== 'linux') return `the sandbox needs Linux namespaces (this is ${process.platform})`;
  const bwrap = findOnPath('bwrap');
  if (!bwrap) return 'bubblewrap (`bwrap`) is not on PATH';
  for (const tool of ['prlimit', ...(isRoot() ? ['setpriv'] : [])]) {
    if (!findOnPath(tool)) return `\`${tool}\` (util-linux) is not on PATH`;
  }
  const truePath = ['/usr/bin/true', '/bin/true'].find((p) => existsSync(p));
  if (!truePath) return 'no `true` program to probe bubblewrap with';
  try {
    const argv = wrapCommand(
      ['bwrap', '--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', truePath],
      SANDBOX_UID_BASE,
    );
    execFileSync(argv[0], argv.slice(1), { stdio: 'pipe', timeout: 10_000 });
    return undefined;
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    return `bubblewrap cannot create namespaces here (${stderr || (err as Error).message}); user namespaces may be disabled`;
  }
}

/** Prefixes a command with setpriv (root only), so the jail runs as an unprivileged uid. */
function wrapCommand(argv: string[], uid: number): string[] {
  if (!isRoot()) return argv;
  return ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv];
}

/** uid and gid a root-started jail maps its process to when it cannot switch users first ("nobody"). */
const NOBODY = 65534;

/**
 * Bind sources an unprivileged user cannot read (a folder on the way lacks o+x, or the path lacks o+r),
 * e.g. a Node binary under /root. The jail cannot be started as the sandbox user with those.
 */
export function unreadableByOthers(paths: readonly string[]): string[] {
  return paths.filter((path) => {
    const parts = path.split('/').filter(Boolean);
    for (let i = 0; i < parts.length; i++) {
      const at = '/' + parts.slice(0, i + 1).join('/');
      const mode = statSync(at).mode;
      const last = i === parts.length - 1;
      if (!(mode & 0o001) && !(last && !statSync(at).isDirectory())) return true;
      if (last && !(mode & 0o004)) return true;
    }
    return false;
  });
}

/**
 * How a root host starts the jail: as the unprivileged sandbox user (setpriv; the process limit holds),
 * or — only for a backend that cannot fork, when a bind is unreadable to that user — as root mapped to
 * nobody inside a user namespace. A forking backend with unreadable binds is refused with the paths named.
 */
function rootStrategy(spec: JailSpec): 'setpriv' | 'userns' {
  const unreadable = unreadableByOthers(spec.binds.map((b) => b.host));
  if (unreadable.length === 0) return 'setpriv';
  if (!spec.canFork) return 'userns';
  throw new Error(
    `sandbox: the jail runs as an unprivileged user, who cannot read ${unreadable.join(', ')}; ` +
      'make these world-readable (chmod o+rx on every folder on the way) or use an interpreter installed ' +
      'outside a private home folder',
  );
}

let nextPool = 0;
/** A uid for one pool's sandboxes (root hosts only): distinct per process and per pool. */
export function poolUid(): number {
  return SANDBOX_UID_BASE + (process.pid % 100_000) * 16 + (nextPool++ % 16);
}

function prlimitArgs(spec: JailSpec, limits: SandboxLimits, processLimit: boolean): string[] {
  const memory = Math.floor(limits.memoryBytes + spec.memoryOverheadBytes);
  return [
    'prlimit',
    `--${spec.memoryLimit}=${memory}`,
    `--cpu=${PROCESS_CPU_SECONDS}`,
    `--fsize=${MAX_FILE_BYTES}`,
    '--core=0',
    // Only the sandbox user's own count is meaningful: as the host's user it would count every process
    // the user has, and root is exempt from it.
    ...(processLimit ? [`--nproc=${limits.maxProcesses}`] : []),
    '--',
  ];
}

/** Environment inside the jail: nothing inherited from the host. */
const JAIL_ENV: Record<string, string> = {
  HOME: SCRATCH_DIR,
  PATH: '/usr/bin:/bin',
  LANG: 'C.UTF-8',
  PYTHONHASHSEED: '0',
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONIOENCODING: 'utf-8',
  /** Tells the python3 entry point it is in its own PID namespace (where it may reap what a snippet left). */
  REASONLOOP_SANDBOX_JAIL: '1',
};

/** The full command line that starts one sandbox process. */
export function jailCommand(
  spec: JailSpec,
  limits: SandboxLimits,
  mode: IsolationMode,
  uid: number,
): string[] {
  if (mode === 'none-unsafe') return [...prlimitArgs(spec, limits, false), ...spec.unjailedCommand];
  const strategy = isRoot() ? rootStrategy(spec) : undefined;
  const bwrap = [
    'bwrap',
    '--unshare-all',
    ...(strategy === 'userns' ? ['--unshare-user', '--uid', `${NOBODY}`, '--gid', `${NOBODY}`] : []),
    '--die-with-parent',
    '--new-session',
    '--clearenv',
    ...Object.entries(JAIL_ENV).flatMap(([k, v]) => ['--setenv', k, v]),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(SCRATCH_BYTES),
    '--tmpfs',
    '/tmp',
    '--size',
    String(SCRATCH_BYTES),
    '--tmpfs',
    SCRATCH_DIR,
    ...spec.binds.flatMap((b) => ['--ro-bind', b.host, b.jail]),
    // The jail's root is a tmpfs bwrap builds the mount points in; freeze it so only scratch is writable.
    '--remount-ro',
    '/',
    '--chdir',
    SCRATCH_DIR,
    '--',
    ...spec.command,
  ];
  const command = [...prlimitArgs(spec, limits, strategy === 'setpriv'), ...bwrap];
  return strategy === 'setpriv' ? wrapCommand(command, uid) : command;
}
