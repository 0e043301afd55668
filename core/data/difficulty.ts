/**
 * The difficulty filter (STILL-3, arXiv 2503.04548): sample each problem k times with a model, keep the
 * problems it sometimes solves. Pure parts: the keep band, shard ranges, and the two JSONL outputs — the
 * per-problem pass rates and the kept problems in the row format a `file` data source reads.
 */
import type { Problem } from './problems.ts';

/**
 * The keep band on a problem's pass rate (passes / samples). An unset bound is the paper's filter: drop a
 * problem never solved (rate 0) or always solved (rate 1). A set bound is inclusive.
 */
export interface PassRateBand {
  minPassRate?: number;
  maxPassRate?: number;
}

export type Difficulty = 'kept' | 'tooEasy' | 'tooHard';

/** How often one problem was solved. */
export interface PassCount {
  /** The problem's index in the task's data (its order as loaded). */
  index: number;
  passes: number;
  samples: number;
}

export function classifyPassRate(
  count: Pick<PassCount, 'passes' | 'samples'>,
  band: PassRateBand,
): Difficulty {
  const { passes, samples } = count;
  const rate = passes / samples;
  if (band.minPassRate === undefined ? passes === 0 : rate < band.minPassRate) return 'tooHard';
  if (band.maxPassRate === undefined ? passes === samples : rate > band.maxPassRate) return 'tooEasy';
  return 'kept';
}

/** Contiguous problem ranges of at most `perShard` problems covering 0…total−1. */
export function shardRanges(total: number, perShard: number): { first: number; count: number }[] {
  if (!(Number.isSafeInteger(perShard) && perShard >= 1)) {
    throw new Error(`problems per shard must be a positive integer (got ${perShard})`);
  }
  const ranges: { first: number; count: number }[] = [];
  for (let first = 0; first < total; first += perShard) {
    ranges.push({ first, count: Math.min(perShard, total - first) });
  }
  return ranges;
}

/**
 * The field names of the filtered dataset's rows: what a `file` data source needs to read it
 * (`answerFormat` plain, the default: the answer is stored as the verifier compares it).
 */
export const FILTERED_DATA_FIELDS = {
  problemField: 'problem',
  answerField: 'answer',
  idField: 'id',
} as const;

/** One row of the filtered dataset. */
export interface FilteredRow {
  id: string;
  problem: string;
  answer: string;
}

/** One row of the pass-rate file: every problem, kept or not. */
export interface PassRateRow extends FilteredRow {
  index: number;
  passes: number;
  samples: number;
  passRate: number;
  difficulty: Difficulty;
}

export interface DifficultyCounts {
  total: number;
  kept: number;
  tooEasy: number;
  tooHard: number;
}

export interface FilterOutput {
  passRates: PassRateRow[];
  filtered: FilteredRow[];
  counts: DifficultyCounts;
}

/**
 * Joins the problems with their pass counts (one per problem, any order) and applies the band. A missing
 * or repeated count is an error: the result must cover every problem exactly once.
 */
export function applyDifficultyFilter(
  problems: readonly Problem[],
  counts: readonly PassCount[],
  band: PassRateBand,
): FilterOutput {
  const byIndex = new Map<number, PassCount>();
  for (const c of counts) {
    if (byIndex.has(c.index)) throw new Error(`difficulty filter: problem ${c.index} was counted twice`);
    if (!(c.index >= 0 && c.index < problems.length)) {
      throw new Error(
        `difficulty filter: problem ${c.index} is outside the data (${problems.length} problems)`,
      );
    }
    byIndex.set(c.index, c);
  }
  const passRates: PassRateRow[] = [];
  const filtered: FilteredRow[] = [];
  const tally: DifficultyCounts = { total: problems.length, kept: 0, tooEasy: 0, tooHard: 0 };
  problems.forEach((p, index) => {
    const c = byIndex.get(index);
    if (!c) throw new Error(`difficulty filter: problem ${index} has no pass count`);
    const difficulty = classifyPassRate(c, band);
    tally[difficulty]++;
    const row: FilteredRow = { id: p.id, problem: p.problem, answer: p.answer };
    passRates.push({
      index,
      ...row,
      passes: c.passes,
      samples: c.samples,
      passRate: c.passes / c.samples,
      difficulty,
    });
    if (difficulty === 'kept') filtered.push(row);
  });
  return { passRates, filtered, counts: tally };
}

/** JSON Lines: one object per line, a newline after each (an empty file for no rows). */
export function toJsonl(rows: readonly object[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/**
 * What a difficulty filter writes to the store last (its presence means the other files are complete) and
 * returns: the `difficultyFilter` workflow's result.
 */
export interface DifficultyFilterSummary extends DifficultyCounts {
  filterId: string;
  /** What sampled: `checkpoint:<runId>@<step>`, `dir:<path>` or `init:<seed>`. */
  model: string;
  step?: number;
  /** k, responses per problem. */
  samples: number;
  minPassRate?: number;
  maxPassRate?: number;
  /** Rows of the data that could not be used (not JSON, no problem, no answer). */
  skippedRows: number;
  meanPassRate: number;
  storeUrl: string;
  passRatesKey: string;
  filteredKey: string;
  summaryKey: string;
  /** The fields of the filtered rows, as a `file` data source names them. */
  fields: typeof FILTERED_DATA_FIELDS;
  /** True when an earlier identical run's result was returned. */
  reused?: boolean;
}
