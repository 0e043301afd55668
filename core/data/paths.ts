/** Where the project's files are, resolved from this module (not the working directory). */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two levels above core/data/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Shared read-only data (benchmarks, verifier cases): `../shared/data` next to the repository, or the
 * folder named by REASONLOOP_SHARED_DATA.
 */
export function sharedDataDir(): string {
  return process.env.REASONLOOP_SHARED_DATA ?? resolve(REPO_ROOT, '..', 'shared', 'data');
}
