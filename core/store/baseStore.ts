import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DEFAULT_MAX_GET_BYTES,
  ObjectTooLargeError,
  type ObjectInfo,
  type ObjectStore,
  type PutSource,
  type StoredObject,
} from './objectStore.ts';

/** An object opened for reading: its bytes as a stream and its size as the store reported it. */
export interface OpenedObject {
  stream: Readable;
  size: number;
}

/**
 * What every store shares on top of its own streaming primitives (`putStream`, `openObject`, `head`, list
 * and delete): the in-memory `put`/`get` for small objects, downloads into files, and `exists`.
 */
export abstract class BaseObjectStore implements ObjectStore {
  abstract readonly location: string;

  constructor(readonly maxGetBytes: number = DEFAULT_MAX_GET_BYTES) {}

  abstract putStream(key: string, source: PutSource): Promise<StoredObject>;
  /** Throws ObjectNotFoundError when the key does not exist. */
  protected abstract openObject(key: string): Promise<OpenedObject>;
  abstract head(key: string): Promise<ObjectInfo | undefined>;
  abstract list(prefix: string): Promise<ObjectInfo[]>;
  abstract delete(key: string): Promise<void>;
  abstract deleteMany(keys: readonly string[]): Promise<void>;

  async put(key: string, bytes: Uint8Array): Promise<ObjectInfo> {
    const { size } = await this.putStream(key, readableOf(bytes));
    return { key, size };
  }

  async getStream(key: string): Promise<Readable> {
    return (await this.openObject(key)).stream;
  }

  /** Reads into one buffer of the announced size, so a small object costs its size once, not twice. */
  async get(key: string): Promise<Uint8Array> {
    const { stream, size } = await this.openObject(key);
    if (size > this.maxGetBytes) {
      stream.destroy();
      throw new ObjectTooLargeError(key, this.location, size, this.maxGetBytes);
    }
    const out = new Uint8Array(size);
    let filled = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (filled + chunk.byteLength > size) {
        stream.destroy();
        throw new Error(`${this.location}: ${key} grew past its ${size} bytes while it was read`);
      }
      out.set(chunk, filled);
      filled += chunk.byteLength;
    }
    if (filled !== size) throw new Error(`${this.location}: ${key} ended at ${filled} of its ${size} bytes`);
    return out;
  }

  async getFile(key: string, path: string): Promise<ObjectInfo> {
    const source = await this.getStream(key);
    const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    await mkdir(dirname(resolve(path)), { recursive: true });
    try {
      await pipeline(source, createWriteStream(temp));
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return { key, size: (await stat(path)).size };
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }
}

/** One buffer as a stream of one chunk (an empty buffer gives an empty stream). */
async function* chunksOf(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  if (bytes.byteLength > 0) yield bytes;
}

function readableOf(bytes: Uint8Array): Readable {
  return Readable.from(chunksOf(bytes), { objectMode: false });
}
