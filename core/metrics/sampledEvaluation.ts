/**
 * The metrics of an evaluation that draws n samples per problem: avg@n, the unbiased pass@k and maj@k for
 * every k ≤ n, and a 95% bootstrap interval over problems for avg@n, pass@n and maj@n. A problem without
 * records (it was never answered) scores 0 everywhere, as in `accuracy`.
 */
import { bootstrapInterval } from './bootstrap.ts';
import { majorityAtK, type Vote } from './majority.ts';
import { passAtK } from './passAtK.ts';

export interface SampledRecord extends Vote {
  problem: number;
  sample: number;
}

export interface SampledEvaluationMetrics {
  /** Samples per problem. */
  n: number;
  /** Mean correctness over every sample of every problem. */
  avgAtN: number;
  /** Keyed by k = 1 … n. */
  passAt: Record<string, number>;
  majAt: Record<string, number>;
  /** 95% percentile-bootstrap intervals over problems (2000 resamples, seeded). */
  interval95: { avgAtN: [number, number]; passAtN: [number, number]; majAtN: [number, number] };
}

export function sampledEvaluationMetrics(
  records: readonly SampledRecord[],
  problems: number,
  n: number,
  /** A fresh seeded uniform generator per interval (each interval resamples the same way). */
  newRandom: () => () => number,
): SampledEvaluationMetrics {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`sampledEvaluationMetrics: n must be ≥ 1 (got ${n})`);
  const byProblem = new Map<number, SampledRecord[]>();
  for (const r of records) {
    const list = byProblem.get(r.problem);
    if (list) list.push(r);
    else byProblem.set(r.problem, [r]);
  }
  const groups = [...byProblem.values()].map((g) => [...g].sort((a, b) => a.sample - b.sample));
  for (const g of groups) {
    if (g.length !== n) {
      throw new RangeError(
        `sampledEvaluationMetrics: problem ${g[0].problem} has ${g.length} samples, expected ${n}`,
      );
    }
  }
  const missing = Math.max(0, problems - groups.length);
  const perProblem = (score: (g: SampledRecord[]) => number) => [
    ...groups.map(score),
    ...new Array<number>(missing).fill(0),
  ];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const passAt: Record<string, number> = {};
  const majAt: Record<string, number> = {};
  for (let k = 1; k <= n; k++) {
    passAt[k] = mean(perProblem((g) => passAtK(n, g.filter((r) => r.correct).length, k)));
    majAt[k] = mean(perProblem((g) => majorityAtK(g, k)));
  }
  const avg = perProblem((g) => g.filter((r) => r.correct).length / n);
  const pass = perProblem((g) => passAtK(n, g.filter((r) => r.correct).length, n));
  const maj = perProblem((g) => majorityAtK(g, n));
  return {
    n,
    avgAtN: mean(avg),
    passAt,
    majAt,
    interval95: {
      avgAtN: bootstrapInterval(avg, newRandom()),
      passAtN: bootstrapInterval(pass, newRandom()),
      majAtN: bootstrapInterval(maj, newRandom()),
    },
  };
}
