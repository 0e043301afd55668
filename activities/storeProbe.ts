/**
 * The store probe of a prepare activity: write, read back and delete one object before anything of the run
 * is written. A store no retry can fix (a path under /proc, a file where a folder should be, a read-only
 * mount, credentials the S3 server refuses) fails the workflow at once with a config error naming the
 * field; one that is down now (connection refused, a 5xx) stays retryable and is retried by the policy.
 */
import { probeStore } from '../client/preflightChecks.ts';
import type { ObjectStore } from '../core/store/index.ts';
import { FAILURE, permanent } from './failures.ts';

/** File-system errors of a local store that the same path gives again on every attempt. */
const PERMANENT_FS_CODES = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'EISDIR',
  'EEXIST',
  // mkdir of a path that cannot exist (under /proc, /dev/null/…).
  'ENOENT',
  'ENAMETOOLONG',
  'ELOOP',
]);

/** S3 answers that mean the request itself is refused, not that the server is unwell. */
const PERMANENT_S3_STATUS = new Set([400, 401, 403, 405]);

/** The errors of `error`'s cause chain, outermost first. */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && chain.length < 10; e = (e as Error).cause) {
    chain.push(e);
  }
  return chain;
}

/** True when retrying cannot help: a permanent file-system error, or a refused S3 request. */
export function isPermanentStoreError(error: unknown): boolean {
  return causeChain(error).some((e) => {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && PERMANENT_FS_CODES.has(code)) return true;
    const status = (e as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
    return typeof status === 'number' && PERMANENT_S3_STATUS.has(status);
  });
}

/**
 * Probes `store` (the config's `field`, at `url`); a permanent failure is a non-retryable RunConfigError:
 * `run.store.url file:///proc/x: cannot be written (…)`.
 */
export async function probeRunStore(store: ObjectStore, field: string, url: string): Promise<void> {
  try {
    await probeStore(store);
  } catch (error) {
    if (!isPermanentStoreError(error)) throw error;
    throw permanent(FAILURE.config, `${field} ${url}: cannot be written (${(error as Error).message})`);
  }
}
