import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isOurProcess, stopDaemon, type DaemonProcess } from './daemon.ts';
import { freePort, isPortOpen } from './ports.ts';
import { s3Answers, startS3Server } from './s3Server.ts';
import { startTemporalDevServer, temporalNamespaceReady, DEFAULT_NAMESPACE } from './temporal.ts';
import { installTool, TEMPORAL_CLI, VERSITYGW } from './tools.ts';

/**
 * The servers the test command (and the demo) share, recorded in `<stateDir>/stack.json` so a second
 * `up` reuses healthy ones, and `down` stops exactly the processes that were started, by pid, never by
 * name. The data never goes away by itself: after a crash or a `down`, `up` restarts both servers on
 * their own SQLite file and data folder with the recorded credentials, on the recorded ports where they
 * are free; only `wipe` (or `up --fresh`) deletes it.
 */
export interface SharedStackState {
  /** `ports` is `[gRPC, HTTP, metrics, Web UI?]`, the order startTemporalDevServer binds them in. */
  temporal: DaemonProcess & { address: string; uiUrl?: string };
  s3: DaemonProcess & { endpoint: string };
  /** Exported to the tests: the `temporal` CLI and our code read the same TEMPORAL_* variables. */
  env: Record<string, string>;
}

/** The bucket the shared S3 server starts with, for tests that do not make their own. */
export const SHARED_TEST_BUCKET = 'reasonloop-test';

const stateFile = (stateDir: string) => join(stateDir, 'stack.json');
/** What `wipe` deletes: the two servers' folders and the record; nothing else in the state folder. */
const temporalDir = (stateDir: string) => join(stateDir, 'temporal');
const s3Dir = (stateDir: string) => join(stateDir, 's3');

async function readState(stateDir: string): Promise<SharedStackState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(stateDir), 'utf8')) as SharedStackState;
  } catch {
    return undefined;
  }
}

async function healthy(state: SharedStackState): Promise<boolean> {
  return (
    (await isOurProcess(state.temporal.pid, state.temporal.command)) &&
    (await isOurProcess(state.s3.pid, state.s3.command)) &&
    (await temporalNamespaceReady(state.temporal.command, state.temporal.address, DEFAULT_NAMESPACE)) &&
    (await s3Answers(state.s3.endpoint))
  );
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A recorded server that died leaves nothing to stop (its port may already serve someone else). */
async function stopIfRunning(daemon: DaemonProcess): Promise<void> {
  if (await isOurProcess(daemon.pid, daemon.command)) await stopDaemon(daemon);
}

/** Stops the recorded servers (only if their pids still run the recorded binaries); the record and the data stay. */
export async function stackDown(stateDir: string): Promise<void> {
  const state = await readState(resolve(stateDir));
  if (state) await Promise.all([stopIfRunning(state.temporal), stopIfRunning(state.s3)]);
}

/** Stops the servers and deletes their data and the record: every workflow and every object of the stack. */
export async function stackWipe(stateDir: string): Promise<void> {
  const dir = resolve(stateDir);
  await stackDown(dir);
  await rm(temporalDir(dir), { recursive: true, force: true });
  await rm(s3Dir(dir), { recursive: true, force: true });
  await rm(stateFile(dir), { force: true });
}

/**
 * A recorded port when nothing answers on it, else a free one, saying so: the exports `up` prints then
 * differ from the last ones, and whoever evaluated those must evaluate the new ones.
 */
export async function reusePort(
  recorded: number | undefined,
  what: string,
  log: (line: string) => void,
): Promise<number | undefined> {
  if (recorded === undefined) return undefined;
  if (!(await isPortOpen(recorded))) return recorded;
  const port = await freePort();
  log(
    `infra: ${what} port ${recorded} is taken by another process; using ${port} (the exports below changed)`,
  );
  return port;
}

/** The ports and credentials a restart takes over from the record (nothing without one). */
async function recordedSettings(
  previous: SharedStackState | undefined,
  ui: boolean,
  log: (l: string) => void,
) {
  if (!previous) return {};
  const [grpc, http, metrics, uiPort] = previous.temporal.ports;
  return {
    port: await reusePort(grpc, 'Temporal gRPC', log),
    httpPort: await reusePort(http, 'Temporal HTTP', log),
    metricsPort: await reusePort(metrics, 'Temporal metrics', log),
    uiPort: ui && previous.temporal.uiUrl ? await reusePort(uiPort, 'Temporal Web UI', log) : undefined,
    s3Port: await reusePort(previous.s3.ports[0], 'S3', log),
    accessKeyId: previous.env.REASONLOOP_S3_ACCESS_KEY_ID,
    secretAccessKey: previous.env.REASONLOOP_S3_SECRET_ACCESS_KEY,
  };
}

/**
 * Reuses the recorded servers when healthy; otherwise starts a Temporal dev server and an S3 server,
 * detached from this process, on the data already in `stateDir` (kept across crashes and `down`), and
 * returns the environment that points at them. `fresh` wipes first (see stackWipe).
 */
export async function stackUp(
  stateDir: string,
  options: { ui?: boolean; fresh?: boolean; env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<SharedStackState> {
  const dir = resolve(stateDir);
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (options.fresh) await stackWipe(dir);
  const previous = await readState(dir);
  if (previous && (await healthy(previous))) return previous;
  // Whatever part of the recorded stack still runs is stopped; its data stays for the restart.
  await stackDown(dir);
  const dbFile = join(temporalDir(dir), 'temporal.sqlite');
  const dataDir = join(s3Dir(dir), 'data');
  const hasData = (await exists(dbFile)) || (await exists(dataDir));
  if (hasData)
    log(
      previous
        ? `infra: restarting the stack recorded in ${stateFile(dir)} on its own data (${dbFile}, ${dataDir})`
        : `infra: ${stateFile(dir)} is missing: starting on the existing data in ${dir} with new ports and S3 credentials`,
    );
  await mkdir(dir, { recursive: true });
  const [temporalBin, versitygwBin] = [
    await installTool(TEMPORAL_CLI, { env }),
    await installTool(VERSITYGW, { env }),
  ];
  const recorded = await recordedSettings(previous, options.ui ?? false, log);
  const temporal = await startTemporalDevServer({
    binary: temporalBin,
    stateDir: temporalDir(dir),
    dbFile,
    port: recorded.port,
    httpPort: recorded.httpPort,
    metricsPort: recorded.metricsPort,
    uiPort: recorded.uiPort,
    headless: !options.ui,
    detached: true,
    env,
  });
  let s3;
  try {
    s3 = await startS3Server({
      binary: versitygwBin,
      stateDir: s3Dir(dir),
      dataDir,
      port: recorded.s3Port,
      accessKeyId: recorded.accessKeyId,
      secretAccessKey: recorded.secretAccessKey,
      buckets: [SHARED_TEST_BUCKET],
      detached: true,
      env,
    });
  } catch (error) {
    await temporal.stop();
    throw error;
  }
  const state: SharedStackState = {
    temporal: {
      ...temporal.process,
      address: temporal.address,
      ...(temporal.uiUrl ? { uiUrl: temporal.uiUrl } : {}),
    },
    s3: { ...s3.process, endpoint: s3.endpoint },
    env: {
      REASONLOOP_STACK: 'shared',
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      REASONLOOP_TEMPORAL_BIN: temporalBin,
      REASONLOOP_VERSITYGW_BIN: versitygwBin,
      REASONLOOP_S3_ENDPOINT: s3.endpoint,
      REASONLOOP_S3_REGION: s3.region,
      REASONLOOP_S3_ACCESS_KEY_ID: s3.accessKeyId,
      REASONLOOP_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      REASONLOOP_S3_FORCE_PATH_STYLE: 'true',
      REASONLOOP_TEST_S3_BUCKET: SHARED_TEST_BUCKET,
    },
  };
  await writeFile(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  return state;
}

/** `export NAME='value'` lines for `eval` in a shell. */
export function shellExports(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => `export ${name}='${value.replaceAll("'", `'\\''`)}'`)
    .join('\n');
}
