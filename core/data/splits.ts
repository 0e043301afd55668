/**
 * The problems a run's data section names, in a fixed order (the cursor indexes into it): a file, a
 * benchmark, or a synthetic task's training split or held-out split. The held-out split is drawn from a
 * derived seed and excludes every problem statement of the training split, so "held out" means unseen.
 */
import { loadBenchmark, type BenchmarkName } from './benchmarks.ts';
import { loadProblems, type LoadSpec } from './load.ts';
import { loadStoreProblems, type StoreDataSpec } from './storeData.ts';
import { emptySkipReport, type SkipReport } from './rows.ts';
import { generateTasks, type SyntheticProblem, type SyntheticSpec } from './synthetic.ts';

/** A synthetic task's problems: `size` tasks of `seed` make the training split. */
export interface SyntheticDataSpec {
  source: 'synthetic';
  task: SyntheticSpec;
  size: number;
  seed: number;
  split: 'train' | 'heldOut';
  heldOutSize: number;
}

/** Where a task's problems come from: what core/config/reward.ts's data schemas parse to. */
export type DataSpec =
  | ({ source: 'file' } & LoadSpec)
  | ({ source: 'store' } & StoreDataSpec)
  | { source: 'benchmark'; name: BenchmarkName }
  | SyntheticDataSpec;

/** Mixed into the seed of the held-out stream (any constant ≠ 0 works; this one is the golden ratio's bits). */
const HELD_OUT_SEED_SALT = 0x9e3779b9;
/** Candidates drawn per held-out problem before giving up (a task space smaller than train + held out). */
const HELD_OUT_ATTEMPTS_PER_PROBLEM = 50;

export interface TaskProblems {
  problems: SyntheticProblem[];
  skipped: SkipReport;
}

export function heldOutSeed(seed: number): number {
  return (seed ^ HELD_OUT_SEED_SALT) >>> 0;
}

/** The training split (tasks 0…size−1) or the held-out split of a synthetic task. */
export function syntheticSplit(spec: SyntheticDataSpec): SyntheticProblem[] {
  const train = generateTasks(spec.task, spec.seed, spec.size);
  if (spec.split === 'train') return train;
  const seen = new Set(train.map((p) => p.problem));
  const out: SyntheticProblem[] = [];
  const limit = spec.heldOutSize * HELD_OUT_ATTEMPTS_PER_PROBLEM;
  const seed = heldOutSeed(spec.seed);
  for (let i = 0; out.length < spec.heldOutSize && i < limit; i++) {
    const [p] = generateTasks(spec.task, seed, 1, i);
    if (seen.has(p.problem)) continue;
    seen.add(p.problem);
    out.push(p);
  }
  if (out.length < spec.heldOutSize) {
    throw new Error(
      `data: only ${out.length} of heldOutSize ${spec.heldOutSize} held-out problems differ from the ${spec.size} training problems (the task space is too small)`,
    );
  }
  return out;
}

export async function loadTaskProblems(spec: DataSpec): Promise<TaskProblems> {
  switch (spec.source) {
    case 'synthetic':
      return { problems: syntheticSplit(spec), skipped: emptySkipReport() };
    case 'benchmark': {
      const loaded = await loadBenchmark(spec.name);
      return { problems: loaded.problems, skipped: loaded.skipped };
    }
    case 'file': {
      const loaded = await loadProblems(spec);
      return { problems: loaded.problems, skipped: loaded.skipped };
    }
    case 'store': {
      const loaded = await loadStoreProblems(spec);
      return { problems: loaded.problems, skipped: loaded.skipped };
    }
  }
}
