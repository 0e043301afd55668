/**
 * Rows → problems: configurable problem/answer fields, the answer taken from a solution's last
 * `\boxed{}` when there is no answer field, answers of any JSON type normalised to text, bad rows
 * skipped and reported, duplicates removed.
 */
import { extractAnswer } from '../reward/verify/extract.ts';
import { emptySkipReport, recordSkip, type Row, type SkipReport } from './rows.ts';

export interface Problem {
  id: string;
  problem: string;
  /** The gold answer, as text (LaTeX or a plain number). */
  answer: string;
}

export interface FieldSpec {
  /** Field holding the problem statement (dotted paths reach into objects: `meta.question`). */
  problemField: string;
  /** Field holding the final answer. */
  answerField?: string;
  /** Field holding a worked solution; its last `\boxed{}` is the answer when `answerField` is absent or empty. */
  solutionField?: string;
  /** Field holding a stable id; the row number otherwise. */
  idField?: string;
  /**
   * How the answer field is written: `plain` (the answer itself, default), `gsm8k` (a solution ending in
   * `#### n`: the number after the marks), `boxed` (a solution: its last `\boxed{}`).
   */
  answerFormat?: 'plain' | 'gsm8k' | 'boxed';
}

export interface ProblemsRead {
  problems: Problem[];
  skipped: SkipReport;
  /** How many answers came from each field (a loader must say which field it used). */
  answerSources: Record<string, number>;
}

export function rowsToProblems(rows: Row[], spec: FieldSpec, source = 'data'): ProblemsRead {
  const problems: Problem[] = [];
  const skipped = emptySkipReport();
  const answerSources: Record<string, number> = {};
  rows.forEach((row, i) => {
    const where = `${source} row ${i + 1}`;
    const problem = getField(row, spec.problemField);
    if (typeof problem !== 'string' || problem.trim() === '') {
      recordSkip(skipped, `${where}: field "${spec.problemField}" is missing or not text`);
      return;
    }
    let answer: string | undefined;
    let from = '';
    if (spec.answerField !== undefined) {
      answer = answerText(getField(row, spec.answerField));
      from = spec.answerField;
      if (answer !== undefined && spec.answerFormat === 'gsm8k') {
        const marked = /####\s*(.+?)\s*$/.exec(answer);
        answer = marked ? marked[1].replace(/,/g, '') : undefined;
        from = `${spec.answerField} (after ####)`;
      } else if (answer !== undefined && spec.answerFormat === 'boxed') {
        answer = extractAnswer(answer, {
          mode: 'latex',
          lastNumberFallback: false,
          acceptUnclosedBox: true,
        })?.text;
        from = `${spec.answerField} (last \\boxed{})`;
      }
    }
    if ((answer === undefined || answer === '') && spec.solutionField !== undefined) {
      const solution = getField(row, spec.solutionField);
      if (typeof solution === 'string') {
        answer = extractAnswer(solution, { mode: 'latex', lastNumberFallback: false })?.text;
        from = `${spec.solutionField} (last \\boxed{})`;
      }
    }
    if (answer === undefined || answer === '') {
      const fields = [spec.answerField, spec.solutionField].filter(Boolean).join('" or "');
      recordSkip(skipped, `${where}: no answer in "${fields}"`);
      return;
    }
    answerSources[from] = (answerSources[from] ?? 0) + 1;
    const id = spec.idField !== undefined ? getField(row, spec.idField) : undefined;
    problems.push({ id: id === undefined || id === null ? `${source}:${i}` : String(id), problem, answer });
  });
  return { problems, skipped, answerSources };
}

/** Any JSON answer as text: 27.0 → "27", ["3"] → "3", strings trimmed; objects are not answers. */
export function answerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value) && value.length === 1) return answerText(value[0]);
  return undefined;
}

function getField(row: Row, path: string): unknown {
  let v: unknown = row;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Row)[key];
  }
  return v;
}

/** Problem text as compared for duplicates: case and spacing do not make a new problem. */
function problemKey(p: Problem): string {
  return p.problem.replace(/\s+/g, ' ').trim().toLowerCase();
}

/** Keeps the first of each problem statement; returns how many were dropped. */
export function dedupeProblems(problems: Problem[]): { problems: Problem[]; duplicates: number } {
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const p of problems) {
    const key = problemKey(p);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return { problems: out, duplicates: problems.length - out.length };
}
