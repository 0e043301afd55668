/** One call from a file and field names to clean problems: read, convert, de-duplicate, report. */
import { MAX_REPORTED_REASONS, readRows } from './rows.ts';
import { dedupeProblems, rowsToProblems, type FieldSpec, type Problem } from './problems.ts';
import type { RowsFormat, SkipReport } from './rows.ts';

export interface LoadSpec extends FieldSpec {
  path: string;
  /** Drop repeated problem statements (default true). */
  dedupe?: boolean;
}

export interface LoadedProblems {
  problems: Problem[];
  /** Unreadable lines and rows without a problem or answer. */
  skipped: SkipReport;
  duplicates: number;
  answerSources: Record<string, number>;
  /** What the file held: JSON Lines, a JSON array or parquet. */
  format?: RowsFormat;
}

export async function loadProblems(spec: LoadSpec): Promise<LoadedProblems> {
  const read = await readRows(spec.path);
  const converted = rowsToProblems(read.rows, spec, spec.path);
  const skipped: SkipReport = {
    count: read.skipped.count + converted.skipped.count,
    reasons: [...read.skipped.reasons, ...converted.skipped.reasons].slice(0, MAX_REPORTED_REASONS),
  };
  const deduped =
    spec.dedupe === false
      ? { problems: converted.problems, duplicates: 0 }
      : dedupeProblems(converted.problems);
  return {
    problems: deduped.problems,
    skipped,
    duplicates: deduped.duplicates,
    answerSources: converted.answerSources,
    ...(read.format ? { format: read.format } : {}),
  };
}
