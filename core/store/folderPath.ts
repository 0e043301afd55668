/**
 * A local store's root folder, created one component at a time. Node's recursive mkdir never returns on a
 * path that cannot exist below an existing folder (Node 20: `mkdir -p /proc/x` gets ENOENT, makes the
 * parent, which exists, and tries the child again, forever, on a libuv thread); component by component,
 * the first refusal comes back as an error with its code (ENOENT, ENOTDIR, EACCES, EROFS).
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}

/** Creates `path` and its missing parents; a file where a folder should be is ENOTDIR. */
export async function makeFolderPath(path: string): Promise<void> {
  const missing: string[] = [];
  for (let dir = resolve(path); ;) {
    try {
      if ((await stat(dir)).isDirectory()) break;
      throw Object.assign(new Error(`${dir} is a file, not a folder`), { code: 'ENOTDIR' });
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') throw error;
      missing.push(dir);
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir);
    } catch (error) {
      if (codeOf(error) !== 'EEXIST') throw error;
    }
  }
}
