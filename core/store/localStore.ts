import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { BaseObjectStore, type OpenedObject } from './baseStore.ts';
import { hashingStream } from './hashing.ts';
import {
  LOCAL_TEMP_DIR,
  ObjectNotFoundError,
  assertValidKey,
  assertValidPrefix,
  type ObjectInfo,
  putSourceStream,
  type PutSource,
  type StoredObject,
} from './objectStore.ts';

/** S3 lists keys in UTF-8 byte order; the local store does the same so both agree. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/**
 * An object store in a local folder: key `a/b/c` is the file `<root>/a/b/c`. Every write goes to a temp
 * file under `<root>/.tmp/` (same file system), is fsynced, then renamed into place, so a crash leaves
 * either the old object or the new one, never a torn file.
 */
export class LocalFolderStore extends BaseObjectStore {
  readonly root: string;
  readonly location: string;

  constructor(root: string, options: { maxGetBytes?: number } = {}) {
    super(options.maxGetBytes);
    this.root = resolve(root);
    this.location = pathToFileURL(this.root).href;
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return join(this.root, ...key.split('/'));
  }

  private async tempPath(): Promise<string> {
    const dir = join(this.root, LOCAL_TEMP_DIR);
    await mkdir(dir, { recursive: true });
    return join(dir, `${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  /** fsync then rename: the rename is atomic and the bytes are on disk before the name appears. */
  private async commit(temp: string, key: string, target: string): Promise<void> {
    try {
      const handle = await open(temp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await mkdir(dirname(target), { recursive: true });
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw new Error(`${this.location}: cannot write ${key}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Hashes while it writes; the source is read once, whatever its size. */
  async putStream(key: string, source: PutSource): Promise<StoredObject> {
    const target = this.pathOf(key);
    const temp = await this.tempPath();
    const hashing = hashingStream();
    try {
      await pipeline(putSourceStream(source), hashing.stream, createWriteStream(temp));
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    await this.commit(temp, key, target);
    return { key, ...hashing.digest() };
  }

  protected async openObject(key: string): Promise<OpenedObject> {
    const path = this.pathOf(key);
    // Opening first turns a missing key into ObjectNotFoundError here rather than a stream 'error' later.
    let handle;
    try {
      handle = await open(path, 'r');
      const info = await handle.stat();
      if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      return { stream: handle.createReadStream(), size: info.size };
    } catch (error) {
      await handle?.close();
      if (isMissing(error)) throw new ObjectNotFoundError(key, this.location);
      throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { key, size: info.size } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertValidPrefix(prefix);
    // Only the folder that holds the prefix's last segment can contain matches.
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut);
    const found: ObjectInfo[] = [];
    await this.walk(base, prefix, found);
    return found.sort((a, b) => compareKeys(a.key, b.key));
  }

  private async walk(dirKey: string, prefix: string, found: ObjectInfo[]): Promise<void> {
    const dir = dirKey === '' ? this.root : join(this.root, ...dirKey.split('/'));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for (const entry of entries) {
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (dirKey === '' && entry.name === LOCAL_TEMP_DIR) continue;
      if (entry.isDirectory()) {
        // Descend only where keys below could still start with the prefix.
        if (prefix.startsWith(`${key}/`) || `${key}/`.startsWith(prefix)) await this.walk(key, prefix, found);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        // A key deleted between readdir and stat (retention running concurrently) is simply gone, as a
        // concurrent delete is in an S3 listing.
        try {
          found.push({ key, size: (await stat(join(dir, entry.name))).size });
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
      }
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await rm(path, { force: true });
    await this.pruneEmptyParents(dirname(path));
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const key of keys) await this.delete(key);
  }

  /** S3 has no folders; removing the ones a delete emptied keeps the two stores' listings alike. */
  private async pruneEmptyParents(dir: string): Promise<void> {
    while (dir.startsWith(this.root + sep)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty, or already gone
      }
      dir = dirname(dir);
    }
  }
}
