/**
 * The evaluation benchmarks in ../shared/data/benchmarks, by name, with the fields each file uses. Users'
 * own sets load through `loadProblems` with their own field names.
 */
import { join } from 'node:path';
import { loadProblems, type LoadedProblems } from './load.ts';
import { sharedDataDir } from './paths.ts';
import type { FieldSpec } from './problems.ts';

export interface BenchmarkSpec extends FieldSpec {
  file: string;
}

export const BENCHMARKS = {
  aime24: { file: 'aime24.jsonl', problemField: 'problem', answerField: 'answer', idField: 'id' },
  aime25: { file: 'aime25.jsonl', problemField: 'problem', answerField: 'answer', idField: 'id' },
  amc23: { file: 'amc23.jsonl', problemField: 'problem', answerField: 'answer', idField: 'id' },
  gsm8k: {
    file: 'gsm8k.jsonl',
    problemField: 'question',
    answerField: 'answer',
    answerFormat: 'gsm8k',
    idField: 'idx',
  },
  minerva_math: {
    file: 'minerva_math.jsonl',
    problemField: 'problem',
    solutionField: 'solution',
    idField: 'idx',
  },
  math500: { file: 'math500.jsonl', problemField: 'problem', answerField: 'answer', idField: 'unique_id' },
  olympiadbench: {
    file: 'olympiadbench.jsonl',
    problemField: 'question',
    answerField: 'final_answer',
    idField: 'id',
  },
} as const satisfies Record<string, BenchmarkSpec>;

export type BenchmarkName = keyof typeof BENCHMARKS;

export const BENCHMARK_NAMES = Object.keys(BENCHMARKS) as BenchmarkName[];

export function isBenchmarkName(name: string): name is BenchmarkName {
  return Object.hasOwn(BENCHMARKS, name);
}

/** Loads a registered benchmark from `dataDir` (default: the shared data folder). */
export async function loadBenchmark(name: string, dataDir = sharedDataDir()): Promise<LoadedProblems> {
  if (!isBenchmarkName(name)) {
    throw new Error(`unknown benchmark "${name}" (known: ${BENCHMARK_NAMES.join(', ')})`);
  }
  const spec: BenchmarkSpec = BENCHMARKS[name];
  return loadProblems({ ...spec, path: join(dataDir, 'benchmarks', spec.file), dedupe: false });
}
