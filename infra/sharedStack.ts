import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isOurProcess, stopDaemon, type DaemonProcess } from './daemon.ts';
import { s3Answers, startS3Server } from './s3Server.ts';
import { startTemporalDevServer, temporalNamespaceReady, DEFAULT_NAMESPACE } from './temporal.ts';
import { installTool, TEMPORAL_CLI, VERSITYGW } from './tools.ts';

/**
 * The servers the test command (and the demo) share, recorded in `<stateDir>/stack.json` so a second
 * `up` reuses healthy ones and `down` (or the next `up` after a crash) stops exactly the processes that
 * were started, by pid, never by name.
 */
export interface SharedStackState {
  temporal: DaemonProcess & { address: string; uiUrl?: string };
  s3: DaemonProcess & { endpoint: string };
  /** Exported to the tests: the `temporal` CLI and our code read the same TEMPORAL_* variables. */
  env: Record<string, string>;
}

/** The bucket the shared S3 server starts with, for tests that do not make their own. */
export const SHARED_TEST_BUCKET = 'reasonloop-test';

const stateFile = (stateDir: string) => join(stateDir, 'stack.json');

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

/** Stops the recorded servers (only if their pids still run the recorded binaries) and forgets them. */
export async function stackDown(stateDir: string): Promise<void> {
  const state = await readState(resolve(stateDir));
  if (state) {
    await Promise.all([stopDaemon(state.temporal), stopDaemon(state.s3)]);
  }
  await rm(stateFile(resolve(stateDir)), { force: true });
}

/**
 * Starts (or, unless `fresh`, reuses when still healthy) a Temporal dev server and an S3 server on free loopback ports,
 * detached from this process, and returns the environment that points at them.
 */
export async function stackUp(
  stateDir: string,
  options: { ui?: boolean; fresh?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<SharedStackState> {
  const dir = resolve(stateDir);
  const env = options.env ?? process.env;
  const previous = await readState(dir);
  if (!options.fresh && previous && (await healthy(previous))) return previous;
  await stackDown(dir);
  // Fresh servers start on empty data: no workflows or objects left from an earlier run.
  await rm(join(dir, 'temporal'), { recursive: true, force: true });
  await rm(join(dir, 's3'), { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const [temporalBin, versitygwBin] = [
    await installTool(TEMPORAL_CLI, { env }),
    await installTool(VERSITYGW, { env }),
  ];
  const temporal = await startTemporalDevServer({
    binary: temporalBin,
    stateDir: join(dir, 'temporal'),
    headless: !options.ui,
    detached: true,
    env,
  });
  let s3;
  try {
    s3 = await startS3Server({
      binary: versitygwBin,
      stateDir: join(dir, 's3'),
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
