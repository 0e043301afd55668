import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { S3ObjectStore, type S3StoreConfig } from '../core/store/index.ts';
import { startDaemon, stopDaemon, type DaemonProcess } from './daemon.ts';
import { freePort, LOOPBACK } from './ports.ts';
import { installTool, VERSITYGW } from './tools.ts';

/** versitygw is up in well under a second; 20 s covers a loaded machine. */
export const S3_READY_TIMEOUT_MS = 20_000;
/** One readiness probe; the server answers an unauthenticated GET with an S3 error document at once. */
const S3_PROBE_TIMEOUT_MS = 1_000;
export const S3_TEST_REGION = 'us-east-1';

export interface S3ServerOptions {
  port?: number;
  /** Folder for the data and the log (default: a new temp folder, removed again by stop()). */
  stateDir?: string;
  /** Buckets are folders of this directory, objects plain files (default: `<stateDir>/data`). */
  dataDir?: string;
  /** Root credentials (default: random per server). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Created once the server answers. */
  buckets?: string[];
  detached?: boolean;
  binary?: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

export interface S3Server {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** Same as endpoint; the common `{ address, stop() }` shape of the stack helpers. */
  address: string;
  port: number;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  dataDir: string;
  logFile: string;
  pid: number;
  process: DaemonProcess;
  /** Settings for an S3ObjectStore on this server. */
  storeConfig(bucket: string, prefix?: string): S3StoreConfig;
  stop(options?: { force?: boolean }): Promise<void>;
}

/** Any HTTP answer (even 403 to an anonymous request) means the S3 server is serving. */
export async function s3Answers(endpoint: string): Promise<boolean> {
  try {
    await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(S3_PROBE_TIMEOUT_MS) });
    return true;
  } catch {
    return false;
  }
}

export function versitygwArgs(port: number, dataDir: string): string[] {
  // --quiet: no line per request in the log.
  return ['--port', `${LOOPBACK}:${port}`, '--quiet', 'posix', dataDir];
}

/** Starts versitygw on loopback (building it once if needed), waits until it answers, creates `buckets`. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const env = options.env ?? process.env;
  const binary = options.binary ?? (await installTool(VERSITYGW, { env }));
  const port = options.port ?? (await freePort());
  const stateDir = resolve(options.stateDir ?? (await mkdtemp(join(tmpdir(), 'reasonloop-s3-'))));
  // Every top-level folder of dataDir is a bucket, so the log lives beside it, not in it.
  const dataDir = resolve(options.dataDir ?? join(stateDir, 'data'));
  await mkdir(dataDir, { recursive: true });
  const accessKeyId = options.accessKeyId ?? `rl${randomBytes(6).toString('hex')}`;
  const secretAccessKey = options.secretAccessKey ?? randomBytes(18).toString('base64url');
  const endpoint = `http://${LOOPBACK}:${port}`;
  const logFile = join(stateDir, `versitygw-${port}.log`);
  const daemon = await startDaemon({
    name: `S3 server (versitygw) on ${endpoint}`,
    command: binary,
    args: versitygwArgs(port, dataDir),
    env: { ...env, ROOT_ACCESS_KEY: accessKeyId, ROOT_SECRET_KEY: secretAccessKey },
    ports: [port],
    logFile,
    detached: options.detached ?? false,
    readyTimeoutMs: options.readyTimeoutMs ?? S3_READY_TIMEOUT_MS,
    ready: () => s3Answers(endpoint),
  });
  const storeConfig = (bucket: string, prefix = ''): S3StoreConfig => ({
    bucket,
    prefix,
    endpoint,
    region: S3_TEST_REGION,
    accessKeyId,
    secretAccessKey,
    forcePathStyle: true,
  });
  try {
    for (const bucket of options.buckets ?? []) {
      const store = new S3ObjectStore(storeConfig(bucket));
      try {
        await store.ensureBucket();
      } finally {
        store.destroy();
      }
    }
  } catch (error) {
    await stopDaemon(daemon);
    throw error;
  }
  return {
    endpoint,
    address: endpoint,
    port,
    region: S3_TEST_REGION,
    accessKeyId,
    secretAccessKey,
    dataDir,
    logFile,
    pid: daemon.pid,
    process: daemon,
    storeConfig,
    stop: async (stopOptions) => {
      await stopDaemon(daemon, stopOptions);
      if (options.stateDir === undefined) await rm(stateDir, { recursive: true, force: true });
    },
  };
}
