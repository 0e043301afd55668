/**
 * The length experiment over several seeds: each seed's curves, and the summary an interval needs —
 * held-out accuracy, mean length, the reflection rate and the direct share at the SFT model and after the
 * last GRPO step, each as the mean over seeds with its 95% t-interval, and the paired change (per seed,
 * after − before), so "GRPO lengthened and raised accuracy" is read off one interval each.
 */
import { seedInterval, type SeedInterval } from '../core/metrics/seedInterval.ts';
import type { DemoOptions } from './configs.ts';
import { lengthChangePercent, type CurvePoint } from './curves.ts';
import { formatTable } from './report.ts';

/** What one seed's run measured: the held-out curve (step 0: the SFT model) and the training rollouts'. */
export interface SeedRun {
  seed: number;
  options: DemoOptions;
  heldOut: CurvePoint[];
  training: CurvePoint[];
}

/** Held-out accuracy and length at the SFT model and after the last GRPO step, over seeds (t-intervals). */
export function seedsTable(runs: SeedRun[]): string {
  const f = (i: SeedInterval, d: number) =>
    `${i.mean.toFixed(d)} [${i.low.toFixed(d)}, ${i.high.toFixed(d)}]`;
  const first = (r: SeedRun) => r.heldOut[0];
  const last = (r: SeedRun) => r.heldOut[r.heldOut.length - 1];
  const row = (name: string, metric: (p: CurvePoint) => number, d: number) => {
    const before = runs.map((r) => metric(first(r)));
    const after = runs.map((r) => metric(last(r)));
    const change = after.map((a, i) => a - before[i]);
    return [name, f(seedInterval(before), d), f(seedInterval(after), d), f(seedInterval(change), d)];
  };
  const relative = runs.map((r) => lengthChangePercent(r.heldOut));
  return formatTable({
    title: `held-out over ${runs.length} seeds (${runs.map((r) => r.seed).join(', ')}): mean [95% t-interval]; SFT → GRPO step ${last(runs[0]).step}`,
    columns: ['metric', 'SFT', 'after GRPO', 'change (paired)'],
    rows: [
      row('accuracy', (p) => p.accuracy, 3),
      row('mean length', (p) => p.meanLength, 1),
      ['length change %', '', '', f(seedInterval(relative), 1)],
      row('reflection rate', (p) => p.reflectionRate, 3),
      row('direct share', (p) => p.direct, 3),
    ],
  });
}
