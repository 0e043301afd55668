/**
 * The local stack for tests and the demo: a Temporal dev server and an S3 server (versitygw) on loopback,
 * each `{ address, stop() }`. `useOrStart*` reuse the shared servers the test command started (their
 * addresses are in the environment) and start private ones otherwise.
 */
import { startS3Server, type S3Server, type S3ServerOptions } from './s3Server.ts';
import { startTemporalDevServer, type TemporalDevServer, type TemporalDevServerOptions } from './temporal.ts';

export {
  startTemporalDevServer,
  temporalDevServerArgs,
  TRANSFER_PROCESSOR_MAX_POLL_RPS,
} from './temporal.ts';
export type { TemporalDevServer, TemporalDevServerOptions } from './temporal.ts';
export { startS3Server, versitygwArgs } from './s3Server.ts';
export type { S3Server, S3ServerOptions } from './s3Server.ts';
export { installTool, resolveTool, cacheDir, cacheBinDir, TEMPORAL_CLI, VERSITYGW } from './tools.ts';
export { freePort, isPortOpen } from './ports.ts';

/** A server this process may use; `stop()` is a no-op for a shared one it did not start. */
export interface StackService {
  address: string;
  shared: boolean;
  stop(): Promise<void>;
}

/** The shared Temporal dev server named by TEMPORAL_ADDRESS when the test command set it up, else a private one. */
export async function useOrStartTemporal(
  options: TemporalDevServerOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<StackService & { namespace: string; server?: TemporalDevServer }> {
  if (env.REASONLOOP_STACK === 'shared' && env.TEMPORAL_ADDRESS) {
    return {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE || 'default',
      shared: true,
      stop: async () => {},
    };
  }
  const server = await startTemporalDevServer(options);
  return {
    address: server.address,
    namespace: server.namespace,
    shared: false,
    server,
    stop: () => server.stop(),
  };
}

/** The shared S3 server when the test command set one up, else a private one; credentials come with it. */
export async function useOrStartS3(
  options: S3ServerOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<
  StackService & {
    endpoint: string;
    accessKeyId: string;
    secretAccessKey: string;
    region: string;
    server?: S3Server;
  }
> {
  const { REASONLOOP_S3_ENDPOINT, REASONLOOP_S3_ACCESS_KEY_ID, REASONLOOP_S3_SECRET_ACCESS_KEY } = env;
  if (
    env.REASONLOOP_STACK === 'shared' &&
    REASONLOOP_S3_ENDPOINT &&
    REASONLOOP_S3_ACCESS_KEY_ID &&
    REASONLOOP_S3_SECRET_ACCESS_KEY
  ) {
    return {
      address: REASONLOOP_S3_ENDPOINT,
      endpoint: REASONLOOP_S3_ENDPOINT,
      accessKeyId: REASONLOOP_S3_ACCESS_KEY_ID,
      secretAccessKey: REASONLOOP_S3_SECRET_ACCESS_KEY,
      region: env.REASONLOOP_S3_REGION || 'us-east-1',
      shared: true,
      stop: async () => {},
    };
  }
  const server = await startS3Server(options);
  return { ...server, shared: false, server, stop: () => server.stop() };
}
