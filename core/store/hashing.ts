import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/** The sha256 (lowercase hex) and byte count of a stream's bytes. */
export interface StreamDigest {
  sha256: string;
  size: number;
}

/**
 * A pass-through stream that hashes and counts the bytes flowing through it, so an object is hashed in
 * the same pass that stores or restores it, never by loading it. `digest()` is valid once it has ended.
 */
export function hashingStream(): { stream: Transform; digest: () => StreamDigest } {
  const hash = createHash('sha256');
  let size = 0;
  let sha256: string | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.byteLength;
      done(null, chunk);
    },
  });
  return {
    stream,
    digest: () => {
      sha256 ??= hash.digest('hex');
      return { sha256, size };
    },
  };
}

/** Hashes a stream read to its end. */
export async function sha256OfStream(source: AsyncIterable<Uint8Array>): Promise<StreamDigest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { sha256: hash.digest('hex'), size };
}
