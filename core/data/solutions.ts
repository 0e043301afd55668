/**
 * Worked solutions for SFT from a file: rows with a problem and a written-out solution (JSONL, a JSON
 * array, or parquet), the field names configurable. As TRL's SFTTrainer does with prompt/completion data,
 * the problem becomes the prompt (through the task's template) and the solution, as is, the assistant's
 * response the loss is taken on. Rows without both texts are skipped and counted.
 */
import { emptySkipReport, MAX_REPORTED_REASONS, readRows, recordSkip } from './rows.ts';
import type { Row, SkipReport } from './rows.ts';

/** Moved to rows.ts, where every problem and solution file is read. */
export { parseJsonArrayOrLines } from './rows.ts';

export interface SolutionExample {
  id: string;
  problem: string;
  /** The worked solution: the whole target response (reasoning and final answer). */
  solution: string;
}

export interface SolutionsSpec {
  path: string;
  /** Field of the problem statement (dotted paths reach into objects: `meta.question`). */
  problemField: string;
  /** Field of the worked solution. */
  solutionField: string;
  /** Field of a stable id; `<path>:<row>` otherwise. */
  idField?: string;
}

export interface SolutionsRead {
  examples: SolutionExample[];
  skipped: SkipReport;
}

function getField(row: Row, path: string): unknown {
  let v: unknown = row;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Row)[key];
  }
  return v;
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

export function rowsToSolutions(
  rows: readonly Row[],
  spec: Omit<SolutionsSpec, 'path'>,
  source = 'data',
): SolutionsRead {
  const examples: SolutionExample[] = [];
  const skipped = emptySkipReport();
  rows.forEach((row, i) => {
    const where = `${source} row ${i + 1}`;
    const problem = getField(row, spec.problemField);
    const solution = getField(row, spec.solutionField);
    if (!isText(problem))
      return recordSkip(skipped, `${where}: field "${spec.problemField}" is missing or not text`);
    if (!isText(solution))
      return recordSkip(skipped, `${where}: field "${spec.solutionField}" is missing or not text`);
    const id = spec.idField !== undefined ? getField(row, spec.idField) : undefined;
    examples.push({ id: id === undefined || id === null ? `${source}:${i}` : String(id), problem, solution });
  });
  return { examples, skipped };
}

export async function loadSolutions(spec: SolutionsSpec): Promise<SolutionsRead> {
  const read = await readRows(spec.path);
  const converted = rowsToSolutions(read.rows, spec, spec.path);
  return {
    examples: converted.examples,
    skipped: {
      count: read.skipped.count + converted.skipped.count,
      reasons: [...read.skipped.reasons, ...converted.skipped.reasons].slice(0, MAX_REPORTED_REASONS),
    },
  };
}
