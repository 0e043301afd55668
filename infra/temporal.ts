import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDaemon, stopDaemon, type DaemonProcess } from './daemon.ts';
import { freePorts, isPortOpen, LOOPBACK } from './ports.ts';
import { installTool, TEMPORAL_CLI } from './tools.ts';

/**
 * The dev server's history service reads its transfer queue at most this many times a second per shard
 * (default 20, one shard): every workflow or activity hop then costs ≈100 ms. At 10000 a hop costs
 * ≈14 ms (measured with both SDKs, DESIGN.md §4).
 */
export const TRANSFER_PROCESSOR_MAX_POLL_RPS = 10_000;
/** Dynamic config every dev server gets unless the caller passes its own. */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, string | number | boolean>> = {
  'history.transferProcessorMaxPollRPS': TRANSFER_PROCESSOR_MAX_POLL_RPS,
};
/**
 * SQLite pragmas of the dev server's database file. The CLI opens a file database with SQLite's defaults
 * (a rollback journal, synchronous FULL): every commit syncs the journal and the database to disk, and a
 * hop makes about five commits (activity completed, workflow task started and completed, activity
 * started), serialised on the server's one connection. With a write-ahead log and synchronous NORMAL a
 * commit appends to the log without a sync (SQLite syncs it at checkpoints): a commit still survives the
 * server process being killed (the tests' kill -9 and restarts), not the machine losing power — a dev
 * stack's trade (docs/benchmarks.md, bench:orchestration).
 */
export const DEV_SERVER_SQLITE_PRAGMAS: Readonly<Record<string, string>> = {
  journal_mode: 'wal',
  synchronous: 'normal',
};
/** First start creates the SQLite schema; 60 s leaves room for a loaded 2-core CI machine. */
export const TEMPORAL_READY_TIMEOUT_MS = 60_000;
/** One health probe may take this long before it counts as "not yet". */
const HEALTH_PROBE_TIMEOUT_MS = 3_000;
export const DEFAULT_NAMESPACE = 'default';

export interface TemporalDevServerOptions {
  /** gRPC port (default: a free one). */
  port?: number;
  /** HTTP API and metrics ports (default: free ones); given when a stack restarts on its recorded ports. */
  httpPort?: number;
  metricsPort?: number;
  /** Web UI port; ignored when headless (default: a free one). */
  uiPort?: number;
  /** No Web UI (the default for tests). */
  headless?: boolean;
  /** SQLite file, so the server's state survives a restart (default: `<stateDir>/temporal.sqlite`). */
  dbFile?: string;
  /** Folder for the database and log (default: a new temp folder, removed again by stop()). */
  stateDir?: string;
  /** Dynamic config values; replaces DEV_SERVER_DYNAMIC_CONFIG when given (`{}` = the server's defaults). */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** SQLite pragmas of the database file; replaces DEV_SERVER_SQLITE_PRAGMAS when given (`{}` = SQLite's defaults). */
  sqlitePragmas?: Record<string, string>;
  /** Extra namespaces to create besides `default`. */
  namespaces?: string[];
  /** Outlive this process (the test command's shared stack). */
  detached?: boolean;
  binary?: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

export interface TemporalDevServer {
  /** host:port for `Connection.connect({ address })` and `temporal --address`. */
  address: string;
  port: number;
  /** Where the server's own Prometheus metrics are served (`http://127.0.0.1:<metricsPort>/metrics`). */
  metricsPort: number;
  uiUrl: string | undefined;
  namespace: string;
  dbFile: string;
  logFile: string;
  binary: string;
  pid: number;
  process: DaemonProcess;
  /** Stops the server and waits until its ports are closed; `force` = kill -9 (crash tests). A state folder the helper made itself is removed. */
  stop(options?: { force?: boolean }): Promise<void>;
  /** Stops, then starts again on the same ports and database (the state folder is kept). */
  restart(options?: { force?: boolean }): Promise<void>;
}

export interface TemporalDevServerArgs {
  port: number;
  httpPort: number;
  metricsPort: number;
  uiPort: number | undefined;
  dbFile: string;
  namespaces: string[];
  dynamicConfig: Record<string, string | number | boolean>;
  sqlitePragmas: Record<string, string>;
}

/** The `temporal server start-dev` command line: loopback only, every port explicit, fast hops. */
export function temporalDevServerArgs(a: TemporalDevServerArgs): string[] {
  const args = ['server', 'start-dev', '--ip', LOOPBACK, '--port', String(a.port), '--db-filename', a.dbFile];
  // Every port is pinned: left to defaults, two dev servers on one machine would fight over them.
  args.push('--http-port', String(a.httpPort), '--metrics-port', String(a.metricsPort));
  if (a.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(a.uiPort), '--ui-ip', LOOPBACK);
  for (const [key, value] of Object.entries(a.dynamicConfig)) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  for (const [pragma, value] of Object.entries(a.sqlitePragmas)) {
    args.push('--sqlite-pragma', `${pragma}=${value}`);
  }
  for (const namespace of a.namespaces) args.push('--namespace', namespace);
  args.push('--log-level', 'warn');
  return args;
}

/** Healthy = the gRPC port answers and the namespace is registered (what a worker needs). */
export function temporalNamespaceReady(binary: string, address: string, namespace: string): Promise<boolean> {
  return new Promise((resolvePromise) => {
    execFile(
      binary,
      [
        'operator',
        'namespace',
        'describe',
        '--namespace',
        namespace,
        '--address',
        address,
        '--command-timeout',
        '2s',
      ],
      { timeout: HEALTH_PROBE_TIMEOUT_MS },
      (error) => resolvePromise(!error),
    );
  });
}

/** Starts `temporal server start-dev` on loopback (building the CLI once if needed) and waits until it serves. */
export async function startTemporalDevServer(
  options: TemporalDevServerOptions = {},
): Promise<TemporalDevServer> {
  const env = options.env ?? process.env;
  const binary = options.binary ?? (await installTool(TEMPORAL_CLI, { env }));
  const stateDir = resolve(options.stateDir ?? (await mkdtemp(join(tmpdir(), 'reasonloop-temporal-'))));
  await mkdir(stateDir, { recursive: true });
  const [grpcPort, httpPort, metricsPort, uiPort] = await freePorts(4);
  const withUi = options.headless === false || options.uiPort !== undefined;
  const args: TemporalDevServerArgs = {
    port: options.port ?? grpcPort!,
    httpPort: options.httpPort ?? httpPort!,
    metricsPort: options.metricsPort ?? metricsPort!,
    uiPort: withUi ? (options.uiPort ?? uiPort) : undefined,
    dbFile: resolve(options.dbFile ?? join(stateDir, 'temporal.sqlite')),
    namespaces: options.namespaces ?? [],
    dynamicConfig: options.dynamicConfig ?? { ...DEV_SERVER_DYNAMIC_CONFIG },
    sqlitePragmas: options.sqlitePragmas ?? { ...DEV_SERVER_SQLITE_PRAGMAS },
  };
  const address = `${LOOPBACK}:${args.port}`;
  const logFile = join(stateDir, `temporal-${args.port}.log`);
  // This order is recorded in stack.json and read back when a stack restarts on its own ports.
  const ports = [args.port, args.httpPort, args.metricsPort, ...(args.uiPort ? [args.uiPort] : [])];
  const spawnIt = () =>
    startDaemon({
      name: `Temporal dev server on ${address}`,
      command: binary,
      args: temporalDevServerArgs(args),
      env,
      ports,
      logFile,
      detached: options.detached ?? false,
      readyTimeoutMs: options.readyTimeoutMs ?? TEMPORAL_READY_TIMEOUT_MS,
      ready: async () =>
        (await isPortOpen(args.port)) &&
        (await temporalNamespaceReady(binary, address, args.namespaces[0] ?? DEFAULT_NAMESPACE)),
    });
  let daemon = await spawnIt();
  const server: TemporalDevServer = {
    address,
    port: args.port,
    metricsPort: args.metricsPort,
    uiUrl: args.uiPort ? `http://${LOOPBACK}:${args.uiPort}` : undefined,
    namespace: DEFAULT_NAMESPACE,
    dbFile: args.dbFile,
    logFile,
    binary,
    get pid() {
      return daemon.pid;
    },
    get process() {
      return daemon;
    },
    stop: async (stopOptions) => {
      await stopDaemon(daemon, stopOptions);
      if (options.stateDir === undefined && options.dbFile === undefined)
        await rm(stateDir, { recursive: true, force: true });
    },
    restart: async (stopOptions) => {
      await stopDaemon(daemon, stopOptions);
      daemon = await spawnIt();
    },
  };
  return server;
}
