/**
 * Reading raw rows: JSON Lines (bad lines skipped and counted) and parquet (hyparquet, pure JS, snappy
 * built in). Both give plain objects; turning rows into problems is problems.ts.
 */
import { readFile } from 'node:fs/promises';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';

export type Row = Record<string, unknown>;

/** Rows that could not be used, with the first few reasons (enough to fix a field name, not a flood). */
export interface SkipReport {
  count: number;
  reasons: string[];
}

/** How many skip reasons are kept verbatim; the rest are only counted. */
export const MAX_REPORTED_REASONS = 5;

export function emptySkipReport(): SkipReport {
  return { count: 0, reasons: [] };
}

export function recordSkip(report: SkipReport, reason: string): void {
  report.count++;
  if (report.reasons.length < MAX_REPORTED_REASONS) report.reasons.push(reason);
}

export interface RowsRead {
  rows: Row[];
  skipped: SkipReport;
  /** The format the reader found (a `.json` file may hold an array or JSON Lines). */
  format?: RowsFormat;
}

export type RowsFormat = 'jsonl' | 'json-array' | 'parquet';

/** Parses JSON Lines text; blank lines are ignored, lines that are not a JSON object are skipped and reported. */
export function parseJsonl(text: string, source = 'input'): RowsRead {
  return parseLines(text.split('\n'), source);
}

/**
 * Parses JSON Lines bytes line by line, so a line that is not valid UTF-8 is skipped and counted like any
 * bad row (decoding the whole file would silently turn it into U+FFFD and train on the damage).
 */
export function parseJsonlBytes(bytes: Uint8Array, source = 'input'): RowsRead {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const lines: (string | undefined)[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    try {
      lines.push(decoder.decode(bytes.subarray(start, i)));
    } catch {
      lines.push(undefined);
    }
    start = i + 1;
  }
  return parseLines(lines, source);
}

/** One row per line; `undefined` marks a line whose bytes are not UTF-8. */
function parseLines(lines: readonly (string | undefined)[], source: string): RowsRead {
  const rows: Row[] = [];
  const skipped = emptySkipReport();
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (raw === undefined) {
      recordSkip(skipped, `${source}:${i + 1}: not valid UTF-8`);
      continue;
    }
    const line = raw.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      recordSkip(skipped, `${source}:${i + 1}: not valid JSON (${(err as Error).message})`);
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      recordSkip(skipped, `${source}:${i + 1}: not a JSON object`);
      continue;
    }
    rows.push(value as Row);
  }
  return { rows, skipped, format: 'jsonl' };
}

export async function readJsonl(path: string): Promise<RowsRead> {
  return parseJsonlBytes(await readFile(path), path);
}

/** All rows of a parquet file as objects (BigInt columns become numbers when they fit). */
export async function readParquet(path: string, columns?: string[]): Promise<RowsRead> {
  const file = await asyncBufferFromFile(path);
  const objects = (await parquetReadObjects({ file, columns })) as Row[];
  const rows = objects.map((r) => {
    const out: Row = {};
    for (const [k, v] of Object.entries(r)) {
      out[k] = typeof v === 'bigint' && Number.isSafeInteger(Number(v)) ? Number(v) : v;
    }
    return out;
  });
  return { rows, skipped: emptySkipReport(), format: 'parquet' };
}

/**
 * A `.json` file holding one array of objects (what `json.dump` of a list writes); otherwise JSON Lines.
 * Array items that are not objects are skipped and counted.
 */
export function parseJsonArrayOrLines(input: string | Uint8Array, source: string): RowsRead {
  if (typeof input !== 'string') {
    // JSON Lines are decoded line by line (a bad line is one skipped row); an array must decode whole.
    if (!new TextDecoder().decode(input.subarray(0, 64)).trimStart().startsWith('[')) {
      return parseJsonlBytes(input, source);
    }
    try {
      input = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch (error) {
      throw new Error(`${source}: not valid UTF-8`, { cause: error });
    }
  }
  const text = input;
  if (!text.trimStart().startsWith('[')) return { ...parseJsonl(text, source), format: 'jsonl' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (!Array.isArray(value)) throw new Error(`${source}: not a JSON array or JSON Lines`);
  const rows: Row[] = [];
  const skipped = emptySkipReport();
  value.forEach((item, i) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      recordSkip(skipped, `${source}[${i}]: not a JSON object`);
    } else {
      rows.push(item as Row);
    }
  });
  return { rows, skipped, format: 'json-array' };
}

/**
 * Reads a JSONL, JSON or parquet file, chosen by extension (.jsonl/.ndjson, .json — an array of objects or
 * JSON Lines — .parquet); the result says which format it read.
 */
export async function readRows(path: string): Promise<RowsRead> {
  if (path.endsWith('.parquet')) return readParquet(path);
  if (path.endsWith('.json')) return parseJsonArrayOrLines(await readFile(path), path);
  if (path.endsWith('.jsonl') || path.endsWith('.ndjson')) return readJsonl(path);
  throw new Error(`${path}: unknown data format (expected .jsonl, .json or .parquet)`);
}
