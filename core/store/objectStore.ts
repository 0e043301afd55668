import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

/** What a listing or a head request knows about one stored object. */
export interface ObjectInfo {
  key: string;
  size: number;
}

/** What a streamed write stored: its size and the sha256 of its bytes, computed while they streamed. */
export interface StoredObject extends ObjectInfo {
  sha256: string;
}

/**
 * A stream read once to its end, the path of a file to stream from, or a stream with its size known in
 * advance (an S3 store then sizes its multipart parts to fit, as it does for a file).
 */
export type PutSource = Readable | string | SizedStream;

export interface SizedStream {
  stream: Readable;
  size: number;
}

/** The bytes of a put source as a stream. */
export function putSourceStream(source: PutSource): Readable {
  if (typeof source === 'string') return createReadStream(source);
  return source instanceof Readable ? source : source.stream;
}

/**
 * One flat namespace of keys such as `runs/<runId>/steps/000012/weights/model.safetensors`.
 * Implemented by a local folder (the embedded default) and by any S3-compatible store; both pass the same
 * contract suite (test/unit/store and test/integration/store). Objects of any size go through
 * `putStream`/`getStream`/`getFile` (weights and optimizer states reach many GB); `put`/`get` hold the whole
 * object in memory and are for small ones (JSON, manifests).
 */
export interface ObjectStore {
  /** Where this store lives, for messages: `file:///…` or `s3://bucket/prefix (endpoint …)`. */
  readonly location: string;
  /** Writes the whole object or nothing: a reader never sees a partial object. */
  put(key: string, bytes: Uint8Array): Promise<ObjectInfo>;
  /** As `put`, streaming: memory stays bounded whatever the size; returns the sha256 of what was stored. */
  putStream(key: string, source: PutSource): Promise<StoredObject>;
  /**
   * The whole object in memory. Throws ObjectNotFoundError when the key does not exist and
   * ObjectTooLargeError when it is larger than the store's `maxGetBytes` (read those with getStream).
   */
  get(key: string): Promise<Uint8Array>;
  getStream(key: string): Promise<Readable>;
  /** Streams the object into `path` (written under a temp name, then renamed). */
  getFile(key: string, path: string): Promise<ObjectInfo>;
  /** Undefined when the key does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  exists(key: string): Promise<boolean>;
  /** Every object whose key starts with `prefix` (a plain string prefix, as in S3), sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Deleting a key that does not exist is not an error (as in S3). */
  delete(key: string): Promise<void>;
  deleteMany(keys: readonly string[]): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  constructor(
    readonly key: string,
    readonly location: string,
  ) {
    super(`object ${key} not found in ${location}`);
    this.name = 'ObjectNotFoundError';
  }
}

/**
 * The most `get` reads into memory by default: far above any JSON the workflow stores, far below Node's
 * 2 GiB limit on one buffer read (ERR_FS_FILE_TOO_LARGE), which would otherwise be the error.
 */
export const DEFAULT_MAX_GET_BYTES = 1024 * 1024 * 1024;

/**
 * `get` of an object too large to hold in memory. Retrying cannot help: the caller must stream the
 * object (getStream, getFile) instead.
 */
export class ObjectTooLargeError extends Error {
  constructor(
    readonly key: string,
    readonly location: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      `object ${key} in ${location} has ${size} bytes, more than the ${limit} bytes get() reads into memory; read it with getStream or getFile`,
    );
    this.name = 'ObjectTooLargeError';
  }
}

/** Local temp files live under this top-level folder, so no key may start with it. */
export const LOCAL_TEMP_DIR = '.tmp';

/** S3's limit on a key's UTF-8 length. */
export const MAX_KEY_BYTES = 1024;

/**
 * Keys are '/'-separated relative paths that mean the same thing on a file system and in S3: no empty,
 * '.' or '..' segment, no leading or trailing '/', no backslash or control character.
 * Returns an error message, or undefined when the key is valid.
 */
export function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'a key must be a non-empty string';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `a key must be at most ${MAX_KEY_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(key)) return 'a key must not contain a backslash or control character';
  const segments = key.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    return "a key's '/'-separated segments must not be empty, '.' or '..'";
  }
  if (segments[0] === LOCAL_TEMP_DIR) return `a key must not start with ${LOCAL_TEMP_DIR}/ (reserved)`;
  return undefined;
}

export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new Error(`invalid object key ${JSON.stringify(key)}: ${problem}`);
}

/** A list prefix may be empty or end in '/', otherwise it follows the key rules. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const problem = keyProblem(trimmed);
  if (problem !== undefined) throw new Error(`invalid list prefix ${JSON.stringify(prefix)}: ${problem}`);
}
