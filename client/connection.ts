/**
 * Where a client or worker connects to Temporal, and a client connection for the length of one use.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';

/**
 * Where a client or worker connects, read from the same environment variables the `temporal` CLI reads,
 * so one set of variables drives both (docs/production.md).
 */
export interface TemporalTarget {
  address: string;
  namespace: string;
  connectionOptions: ConnectionOptions;
}

/** The dev server's default gRPC address and namespace. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

function readPem(env: NodeJS.ProcessEnv, name: string): Buffer | undefined {
  const path = env[name];
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`${name}=${path} cannot be read: ${(error as Error).message}`, { cause: error });
  }
}

export function temporalTargetFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const address = env.TEMPORAL_ADDRESS || DEFAULT_TEMPORAL_ADDRESS;
  const namespace = env.TEMPORAL_NAMESPACE || DEFAULT_TEMPORAL_NAMESPACE;
  const apiKey = env.TEMPORAL_API_KEY || undefined;
  const crt = readPem(env, 'TEMPORAL_TLS_CLIENT_CERT_PATH');
  const key = readPem(env, 'TEMPORAL_TLS_CLIENT_KEY_PATH');
  if ((crt === undefined) !== (key === undefined)) {
    throw new Error(
      'Temporal mTLS: set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, or neither',
    );
  }
  const ca = readPem(env, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH');
  const serverName = env.TEMPORAL_TLS_SERVER_NAME || undefined;
  const tlsFlag = env.TEMPORAL_TLS;
  if (tlsFlag !== undefined && tlsFlag !== '' && !/^(true|false|1|0)$/i.test(tlsFlag)) {
    throw new Error(`TEMPORAL_TLS must be true or false (got ${JSON.stringify(tlsFlag)})`);
  }
  // An API key (Temporal Cloud) or any TLS file implies TLS, as in the CLI; TEMPORAL_TLS=false turns it off.
  const tls = tlsFlag ? /^(true|1)$/i.test(tlsFlag) : Boolean(apiKey || crt || ca || serverName);
  const connectionOptions: ConnectionOptions = {
    address,
    ...(apiKey ? { apiKey } : {}),
    tls: tls
      ? {
          ...(crt && key ? { clientCertPair: { crt, key } } : {}),
          ...(ca ? { serverRootCACertificate: ca } : {}),
          ...(serverName ? { serverNameOverride: serverName } : {}),
        }
      : false,
  };
  return { address, namespace, connectionOptions };
}

/** What a user reads when no Temporal server answers: where we looked, and how to get one there. */
export function unreachableMessage(target: TemporalTarget, reason: string): string {
  const firstLine = reason.split('\n')[0];
  return (
    `cannot reach the Temporal server at ${target.address} (namespace ${target.namespace}): ${firstLine}. ` +
    'Start one with `eval "$(node --import tsx infra/cli.ts up --state-dir .reasonloop/stack)"` ' +
    '(or `temporal server start-dev`), or set TEMPORAL_ADDRESS to your cluster'
  );
}

/** Connects with the TEMPORAL_* variables, hands a client to `use`, and closes the connection after. */
export async function withClient<T>(
  use: (client: Client) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  const target = temporalTargetFromEnv(env);
  let connection: Connection;
  try {
    connection = await Connection.connect(target.connectionOptions);
  } catch (error) {
    throw new Error(unreachableMessage(target, (error as Error).message), { cause: error });
  }
  try {
    return await use(new Client({ connection, namespace: target.namespace }));
  } finally {
    await connection.close();
  }
}
