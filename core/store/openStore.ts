import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalFolderStore } from './localStore.ts';
import type { ObjectStore } from './objectStore.ts';
import { S3ObjectStore, type S3StoreConfig } from './s3Store.ts';

/** The embedded default: a folder in the working directory (ignored by git). */
export const DEFAULT_LOCAL_STORE_DIR = '.reasonloop/store';

export type StoreLocation = { kind: 'local'; root: string } | { kind: 's3'; bucket: string; prefix: string };

/**
 * `s3://bucket/optional/prefix`, `file:///abs/path`, or a plain path (relative to `cwd`).
 * Errors name the offending URL.
 */
export function parseStoreUrl(url: string, cwd = process.cwd()): StoreLocation {
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length).replace(/\/+$/, '');
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    // S3 bucket naming rules: 3-63 lowercase letters, digits, '.', '-'.
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new Error(
        `store URL ${url}: bucket must be 3-63 lowercase letters, digits, '.' or '-' (got ${JSON.stringify(bucket)})`,
      );
    }
    return { kind: 's3', bucket, prefix: slash < 0 ? '' : rest.slice(slash + 1) };
  }
  if (url.startsWith('file://')) return { kind: 'local', root: fileURLToPath(url) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new Error(
      `store URL ${url}: unsupported scheme (use s3://bucket/prefix, file:///path or a folder path)`,
    );
  }
  if (url === '') throw new Error('store URL must not be empty');
  return { kind: 'local', root: resolve(cwd, url) };
}

function envFlag(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const value = env[name];
  if (value === undefined || value === '') return undefined;
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw new Error(`${name} must be true or false (got ${JSON.stringify(value)})`);
}

/**
 * S3 settings for a bucket from the environment. REASONLOOP_S3_* wins over the AWS SDK's standard
 * variables; credentials left unset fall through to the SDK's default chain (profiles, instance roles).
 */
export function s3StoreConfigFromEnv(
  bucket: string,
  prefix: string,
  env: NodeJS.ProcessEnv = process.env,
): S3StoreConfig {
  const pick = (...names: string[]) => names.map((n) => env[n]).find((v) => v !== undefined && v !== '');
  const endpoint = pick('REASONLOOP_S3_ENDPOINT', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL');
  const region = pick('REASONLOOP_S3_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION');
  const accessKeyId = pick('REASONLOOP_S3_ACCESS_KEY_ID', 'AWS_ACCESS_KEY_ID');
  const secretAccessKey = pick('REASONLOOP_S3_SECRET_ACCESS_KEY', 'AWS_SECRET_ACCESS_KEY');
  const sessionToken = pick('REASONLOOP_S3_SESSION_TOKEN', 'AWS_SESSION_TOKEN');
  const forcePathStyle = envFlag(env, 'REASONLOOP_S3_FORCE_PATH_STYLE');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new Error(
      'S3 credentials: set both REASONLOOP_S3_ACCESS_KEY_ID and REASONLOOP_S3_SECRET_ACCESS_KEY (or the AWS_ ones), or neither',
    );
  }
  return {
    bucket,
    prefix,
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(accessKeyId ? { accessKeyId, secretAccessKey } : {}),
    ...(sessionToken ? { sessionToken } : {}),
    ...(forcePathStyle !== undefined ? { forcePathStyle } : {}),
  };
}

/** Opens the store at `url` (default: REASONLOOP_STORE, else the local folder `.reasonloop/store`). */
export function openStore(url?: string, env: NodeJS.ProcessEnv = process.env): ObjectStore {
  const location = parseStoreUrl(url ?? (env.REASONLOOP_STORE || DEFAULT_LOCAL_STORE_DIR));
  if (location.kind === 'local') return new LocalFolderStore(location.root);
  return new S3ObjectStore(s3StoreConfigFromEnv(location.bucket, location.prefix, env));
}
