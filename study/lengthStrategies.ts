/**
 * The length strategies' arms against their control arm (the base arm; ORM's own, at its limit), beyond
 * the findings table's one number each: what they did to response length, the reflection-word rate and
 * accuracy on the held-out set, and what their GRPO runs trained on (study/training.ts). The last is what
 * makes "RRA keeps accuracy" mean something: an arm whose strategy changed no reward and left out no
 * response its control trains on is its control (same seeds, same run), so it keeps accuracy by construction — the 2-digit task, where the tiny model
 * never writes a reflection word, is that case; the table and the RRA check say so from the numbers.
 */
import type { Table } from '../core/metrics/reportData.ts';
import { ARMS, controlOf, FINDINGS, type Arm } from './arms.ts';
import type { StudyResults } from './report.ts';
import {
  armEstimate,
  difference,
  verdictOf,
  type ArmMetric,
  type Difference,
  type SeedResult,
} from './stats.ts';

/** Strategies that change rewards (the rest choose which responses enter the loss). */
const REWARD_SHAPING = new Set(['length-rrl', 'length-rra']);

/** The strategies' arms; a control arm (ORM's, at its shorter limit) is a comparator, not a strategy. */
export const LENGTH_ARMS: Arm[] = ARMS.filter(
  (a) => a.factor === 'length strategy' && !ARMS.some((b) => b.control === a.id),
);

/** An arm's training signal averaged over its seeds (NaN where no seed recorded one). */
export function meanSignal(seeds: readonly SeedResult[]) {
  const signals = seeds.flatMap((s) => (s.training ? [s.training] : []));
  const avg = (f: (t: (typeof signals)[number]) => number) =>
    signals.length ? signals.reduce((a, t) => a + f(t), 0) / signals.length : NaN;
  return {
    reward: avg((t) => t.meanTaskReward),
    kept: avg((t) => t.keptFraction),
    changed: avg((t) => t.lengthRewardedFraction),
    lengthTerm: avg((t) => t.meanLengthReward),
  };
}

/**
 * Whether the arm trained on what its control arm trains on: a reward-shaping strategy that changed no
 * reward, or a selecting one that left out no more responses than the control. Unknown (no signal): false.
 */
export function trainsAsControl(armId: string, arm: SeedResult[], control: SeedResult[]): boolean {
  const [a, b] = [meanSignal(arm), meanSignal(control)];
  if (REWARD_SHAPING.has(armId)) return a.changed === 0;
  return Number.isFinite(a.kept) && a.kept === b.kept;
}

/** arm − its control (study/arms.ts controlOf) on a held-out metric, with its 95% interval. */
export function versusControl(r: StudyResults, armId: string, metric: ArmMetric): Difference {
  const control = r.arms[controlOf(armId)] ?? [];
  return difference(armEstimate(r.arms[armId] ?? [], metric), armEstimate(control, metric));
}

const fmt = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '—');
const interval = (d: Difference, digits: number) =>
  `${fmt(d.diff, digits)} [${fmt(d.low, digits)}, ${fmt(d.high, digits)}]`;

export function lengthStrategiesTable(r: StudyResults): Table {
  return {
    title:
      'Length strategies against their control arm (held-out at T = 0.6; training: the GRPO batches; the control in brackets)',
    columns: [
      'arm',
      'control',
      'length − control (95% CI)',
      'at T = 1.0',
      'reflection rate − control (95% CI)',
      'at T = 1.0',
      'accuracy − control (95% CI)',
      'training reward (control)',
      'in the loss (control)',
      'rewards the strategy changed',
      'trains as the control arm',
    ],
    rows: LENGTH_ARMS.map((a) => {
      const control = controlOf(a.id);
      const [s, c] = [meanSignal(r.arms[a.id] ?? []), meanSignal(r.arms[control] ?? [])];
      return [
        a.id,
        control,
        interval(versusControl(r, a.id, 'length'), 2),
        interval(versusControl(r, a.id, 'lengthT1'), 2),
        interval(versusControl(r, a.id, 'reflection'), 3),
        interval(versusControl(r, a.id, 'reflectionT1'), 3),
        interval(versusControl(r, a.id, 'accuracy'), 3),
        `${fmt(s.reward, 3)} (${fmt(c.reward, 3)})`,
        `${fmt(s.kept, 3)} (${fmt(c.kept, 3)})`,
        REWARD_SHAPING.has(a.id) ? `${fmt(s.changed, 3)} (mean term ${fmt(s.lengthTerm, 3)})` : '—',
        trainsAsControl(a.id, r.arms[a.id] ?? [], r.arms[control] ?? []) ? 'yes' : 'no',
      ];
    }),
  };
}

/**
 * The paper's RRA claim checked as a whole: RRA lengthens (the findings' length verdict), keeps accuracy
 * (their "keeps" verdict), and did so by changing rewards — else the first two say nothing of RRA.
 */
export function rraCheck(r: StudyResults): string {
  const verdict = (metric: 'length' | 'accuracy', keeps: boolean) => {
    const f = FINDINGS.find((x) => x.better === 'length-rra' && x.metric === metric && !!x.keeps === keeps);
    return f ? verdictOf(f, versusControl(r, 'length-rra', metric)) : 'no data';
  };
  const [lengthens, keeps] = [verdict('length', false), verdict('accuracy', true)];
  const s = meanSignal(r.arms['length-rra'] ?? []);
  const why = Number.isFinite(s.changed)
    ? `RRA changed the reward of ${fmt(100 * s.changed, 1)}% of the training responses`
    : 'no training signal was recorded';
  const outcome =
    s.changed === 0
      ? 'trivially (the RRA arm trained exactly as the base arm)'
      : lengthens === 'reproduced' && keeps === 'reproduced'
        ? 'reproduced'
        : 'not shown';
  return `RRA keeps accuracy while lengthening: ${outcome} — lengthens: ${lengthens}; keeps accuracy: ${keeps}; ${why}.`;
}
