/**
 * A data file checked before anything starts: it exists, is not empty, and its first rows parse and hold
 * the fields the config names. Only the head is read (HEAD_BYTES, HEAD_ROWS), so the check stays cheap for
 * any file size; rows further down that are bad are skipped and counted at load time, as everywhere.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { rowsToProblems, type FieldSpec } from './problems.ts';
import { rowsToSolutions, type SolutionsSpec } from './solutions.ts';
import { parseJsonArrayOrLines, parseJsonlBytes, type RowsRead, type SkipReport } from './rows.ts';

/** Bytes of a JSON Lines file read by the check: many rows of any real dataset. */
const HEAD_BYTES = 1 << 20;
/** Rows of a parquet file read by the check. */
const HEAD_ROWS = 64;

/** The first rows of `path` (.jsonl/.ndjson/.json/.parquet); errors name the file. */
export async function readHeadRows(path: string): Promise<RowsRead> {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new Error('not a file');
    size = stat.size;
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new Error(`${path}: ${reason}`, { cause: error });
  }
  if (size === 0) throw new Error(`${path}: the file is empty`);
  if (path.endsWith('.parquet')) {
    try {
      const rows = await parquetReadObjects({ file: await asyncBufferFromFile(path), rowEnd: HEAD_ROWS });
      return { rows: rows as RowsRead['rows'], skipped: { count: 0, reasons: [] } };
    } catch (error) {
      throw new Error(`${path}: not a readable parquet file (${(error as Error).message})`, { cause: error });
    }
  }
  if (!/\.(jsonl|ndjson|json)$/.test(path)) {
    throw new Error(`${path}: unknown data format (expected .jsonl, .json or .parquet)`);
  }
  const bytes = readHead(path, Math.min(size, HEAD_BYTES));
  // A cut file may end inside a row (or, for a JSON array, be unparseable whole): keep whole lines only.
  const cut = bytes.length < size ? bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1) : bytes;
  if (path.endsWith('.json') && cut === bytes) return parseJsonArrayOrLines(bytes, path);
  return parseJsonlBytes(cut, path);
}

function readHead(path: string, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buffer = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buffer, done, length - done, done);
      if (n === 0) break;
      done += n;
    }
    return buffer.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** `field path: no usable rows in the first N (reason; reason)`, when the head has none. */
function requireUsable(
  field: string,
  path: string,
  usable: number,
  read: RowsRead,
  skipped: SkipReport,
): void {
  if (usable > 0) return;
  const seen = read.rows.length + read.skipped.count;
  const why = [...read.skipped.reasons, ...skipped.reasons].slice(0, 3).join('; ');
  throw new Error(`${field} ${path}: no usable row in the first ${seen} (${why || 'no rows'})`);
}

/** A problem file (task.data source "file"): the head holds at least one usable problem. */
export async function checkProblemFile(spec: FieldSpec & { path: string }, field: string): Promise<void> {
  const read = await readHeadRows(spec.path).catch((error: Error) => {
    throw new Error(`${field}: ${error.message}`, { cause: error });
  });
  const converted = rowsToProblems(read.rows, spec, spec.path);
  requireUsable(field, spec.path, converted.problems.length, read, converted.skipped);
}

/** A worked-solutions file (sft.solutions): the head holds at least one problem with its solution. */
export async function checkSolutionsFile(spec: SolutionsSpec, field: string): Promise<void> {
  const read = await readHeadRows(spec.path).catch((error: Error) => {
    throw new Error(`${field}: ${error.message}`, { cause: error });
  });
  const converted = rowsToSolutions(read.rows, spec, spec.path);
  requireUsable(field, spec.path, converted.examples.length, read, converted.skipped);
}
