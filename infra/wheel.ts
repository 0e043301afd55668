/**
 * Just enough of the wheel format (PEP 427) to take native libraries out of a Python wheel without Python:
 * the zip central directory, streaming extraction (stored or deflated) with a sha256 on the way, the
 * dist-info RECORD (path → urlsafe-base64 sha256, size) and the METADATA `Requires-Dist` lines of an extra.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';

/** APPNOTE.TXT §4.3.16: end of central directory record, 22 bytes plus a comment of at most 65535. */
const EOCD_SIGNATURE = 0x06054b50;
const EOCD_MIN_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** APPNOTE.TXT §4.3.12 / §4.3.7: central directory header (46 bytes fixed) and local file header (30). */
const CENTRAL_SIGNATURE = 0x02014b50;
const CENTRAL_FIXED_SIZE = 46;
const LOCAL_SIGNATURE = 0x04034b50;
const LOCAL_FIXED_SIZE = 30;
/** A 32-bit field at its maximum means the real value is in a ZIP64 extra field (APPNOTE.TXT §4.5.3). */
const ZIP64_MARKER = 0xffffffff;
/** Compression methods a wheel uses (APPNOTE.TXT §4.4.5). */
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** Reads the central directory of a zip file (a wheel) into a map by member name. */
export async function readZipDirectory(path: string): Promise<Map<string, ZipEntry>> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const tailSize = Math.min(size, EOCD_MIN_SIZE + MAX_COMMENT);
    const tail = Buffer.alloc(tailSize);
    await file.read(tail, 0, tailSize, size - tailSize);
    let eocd = -1;
    for (let i = tailSize - EOCD_MIN_SIZE; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${path} is not a zip file (no end of central directory record)`);
    const count = tail.readUInt16LE(eocd + 10);
    const dirSize = tail.readUInt32LE(eocd + 12);
    const dirOffset = tail.readUInt32LE(eocd + 16);
    if (dirOffset === ZIP64_MARKER || dirSize === ZIP64_MARKER)
      throw new Error(`${path} is a ZIP64 archive, which this reader does not handle`);
    const dir = Buffer.alloc(dirSize);
    await file.read(dir, 0, dirSize, dirOffset);
    const entries = new Map<string, ZipEntry>();
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (dir.readUInt32LE(at) !== CENTRAL_SIGNATURE)
        throw new Error(`${path}: central directory entry ${i} has a bad signature`);
      const nameLength = dir.readUInt16LE(at + 28);
      const extraLength = dir.readUInt16LE(at + 30);
      const commentLength = dir.readUInt16LE(at + 32);
      const entry: ZipEntry = {
        name: dir.toString('utf8', at + CENTRAL_FIXED_SIZE, at + CENTRAL_FIXED_SIZE + nameLength),
        method: dir.readUInt16LE(at + 10),
        compressedSize: dir.readUInt32LE(at + 20),
        size: dir.readUInt32LE(at + 24),
        localHeaderOffset: dir.readUInt32LE(at + 42),
      };
      if ([entry.compressedSize, entry.size, entry.localHeaderOffset].includes(ZIP64_MARKER))
        throw new Error(`${path}: ${entry.name} needs ZIP64, which this reader does not handle`);
      entries.set(entry.name, entry);
      at += CENTRAL_FIXED_SIZE + nameLength + extraLength + commentLength;
    }
    return entries;
  } finally {
    await file.close();
  }
}

async function dataOffset(path: string, entry: ZipEntry): Promise<number> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(LOCAL_FIXED_SIZE);
    await file.read(header, 0, LOCAL_FIXED_SIZE, entry.localHeaderOffset);
    if (header.readUInt32LE(0) !== LOCAL_SIGNATURE)
      throw new Error(`${path}: local header of ${entry.name} has a bad signature`);
    return entry.localHeaderOffset + LOCAL_FIXED_SIZE + header.readUInt16LE(26) + header.readUInt16LE(28);
  } finally {
    await file.close();
  }
}

function entryStream(path: string, entry: ZipEntry, start: number): NodeJS.ReadableStream[] {
  const raw = createReadStream(path, { start, end: start + entry.compressedSize - 1 });
  if (entry.method === METHOD_STORED) return [raw];
  if (entry.method === METHOD_DEFLATED) return [raw, createInflateRaw()];
  throw new Error(`${path}: ${entry.name} uses compression method ${entry.method} (only stored/deflate)`);
}

/** Streams one member to `dest`; returns its sha256 (hex) and byte count as written. */
export async function extractEntry(
  path: string,
  entry: ZipEntry,
  dest: string,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const stages = entryStream(path, entry, await dataOffset(path, entry));
  await pipeline([...stages, tap, createWriteStream(dest)] as never);
  return { sha256: hash.digest('hex'), size };
}

/** Reads one (small) member into memory as text. */
export async function readEntryText(path: string, entry: ZipEntry): Promise<string> {
  const chunks: Buffer[] = [];
  const stages = entryStream(path, entry, await dataOffset(path, entry));
  await pipeline([
    ...stages,
    async function (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) chunks.push(chunk);
    },
  ] as never);
  return Buffer.concat(chunks).toString('utf8');
}

export interface RecordLine {
  /** sha256 as hex (RECORD stores urlsafe base64 without padding, PEP 376 / PEP 427). */
  sha256: string;
  size: number;
}

/** Parses a dist-info RECORD (CSV: path,sha256=<urlsafe b64>,size); lines without a hash are skipped. */
export function parseRecord(text: string): Map<string, RecordLine> {
  const out = new Map<string, RecordLine>();
  for (const line of text.split('\n')) {
    const match = /^(.*),sha256=([A-Za-z0-9_-]+),(\d+)\s*$/.exec(line);
    if (!match) continue;
    const [, name, digest, size] = match;
    out.set(name, { sha256: Buffer.from(digest, 'base64url').toString('hex'), size: Number(size) });
  }
  return out;
}

/** The `Requires-Dist` requirements that METADATA lists under any of `extras` (markers stripped). */
export function extraRequirements(metadata: string, extras: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of metadata.split('\n')) {
    const match = /^Requires-Dist:\s*([^;]+);\s*extra\s*==\s*["']([^"']+)["']\s*$/.exec(line.trim());
    if (match && extras.includes(match[2])) out.push(match[1].trim());
  }
  return out;
}

/** `onnxruntime_gpu-1.30.0-cp312-…whl` → { name: 'onnxruntime_gpu', version: '1.30.0' } (PEP 427 file name). */
export function parseWheelFileName(fileName: string): { name: string; version: string } {
  const match = /^([^-]+)-([^-]+)-.*\.whl$/.exec(fileName);
  if (!match) throw new Error(`${fileName} is not a wheel file name (name-version-…-platform.whl)`);
  return { name: match[1], version: match[2] };
}
