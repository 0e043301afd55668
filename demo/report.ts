/**
 * The demo's results as a terminal table and an HTML report (core/metrics): held-out accuracy, length,
 * completion ratio and reward of the base, SFT and GRPO models, the training curves read back from the
 * runs' metrics logs (with time per phase), and a link to the GRPO run's rollout browser.
 */
import type { EvaluationSummary } from '../core/metrics/evaluation.ts';
import { metricSeries, type StepMetrics } from '../core/metrics/history.ts';
import type { Chart, Link, ReportData, Table } from '../core/metrics/reportData.ts';
import type { PipelineResult } from './pipeline.ts';

export interface DemoHistories {
  sft: StepMetrics[];
  rl: StepMetrics[];
}

export const STAGE_LABELS: Record<string, string> = {
  base: 'base (random init)',
  sft: 'after SFT',
  rl: 'after GRPO',
};

function evalOf(result: PipelineResult, name: string): EvaluationSummary | undefined {
  return result.evals.find((e) => e.name === name)?.summary;
}

/** One row per model: greedy and sampled accuracy, mean length, completion ratio, mean reward. */
export function evaluationTable(result: PipelineResult): Table {
  const stages = ['base', 'sft', 'rl'];
  const sampled = evalOf(result, 'sft-sampled');
  return {
    title: `Held-out problems (${evalOf(result, 'sft-greedy')?.problems ?? 0}, none seen in training)`,
    columns: [
      'model',
      'accuracy (greedy)',
      `accuracy (T=0.6, ${sampled?.samples ?? 0} samples)`,
      'mean length (tokens)',
      'completion ratio',
      'mean reward',
    ],
    rows: stages.map((s) => {
      const g = evalOf(result, `${s}-greedy`);
      const t = evalOf(result, `${s}-sampled`);
      return [
        STAGE_LABELS[s],
        g?.accuracy ?? NaN,
        t?.accuracy ?? NaN,
        t?.meanLength ?? NaN,
        t?.completionRatio ?? NaN,
        t?.meanReward ?? NaN,
      ];
    }),
  };
}

function line(
  id: string,
  title: string,
  yLabel: string,
  history: StepMetrics[],
  names: [string, string][],
): Chart {
  return {
    kind: 'line',
    id,
    title,
    xLabel: id.startsWith('sft') ? 'SFT step' : 'GRPO step',
    yLabel,
    series: names.map(([metric, name]) => ({ name, points: metricSeries(history, metric) })),
  };
}

export function demoReport(
  result: PipelineResult,
  h: DemoHistories,
  generatedAt: string,
  links: Link[] = [],
): ReportData {
  const table = evaluationTable(result);
  const charts: Chart[] = [
    {
      kind: 'bar',
      id: 'heldout-accuracy',
      title: 'Held-out accuracy (greedy)',
      yLabel: 'accuracy',
      bars: ['base', 'sft', 'rl'].map((s) => ({
        label: STAGE_LABELS[s],
        value: evalOf(result, `${s}-greedy`)?.accuracy ?? NaN,
      })),
    },
    line('sft-loss', 'SFT loss (token-mean NLL)', 'loss', h.sft, [['loss', 'loss']]),
    line('grpo-reward', 'GRPO reward (training batch)', 'reward', h.rl, [
      ['meanTaskReward', 'task reward'],
      ['meanReward', 'reward − β·KL'],
    ]),
    line('grpo-accuracy', 'GRPO accuracy (training batch, T = 1.0)', 'accuracy', h.rl, [
      ['accuracy', 'accuracy'],
    ]),
    line('grpo-length', 'Response length', 'tokens', h.rl, [['meanResponseLength', 'mean length']]),
    line('grpo-kl', 'KL', 'nats / token', h.rl, [
      ['klToReference', 'KL to reference (k1)'],
      ['approxKl', 'KL to sampling policy (k1)'],
    ]),
    line('grpo-entropy', 'Entropy', 'nats / token', h.rl, [['entropy', 'entropy']]),
    line('grpo-clip', 'Clip fraction', 'fraction of tokens', h.rl, [
      ['clipFracHigh', 'clipped high'],
      ['clipFracLow', 'clipped low'],
    ]),
    line('grpo-timing', 'Seconds per GRPO step, by phase', 'seconds', h.rl, [
      ['timing/sample', 'sample'],
      ['timing/score', 'score'],
      ['timing/update', 'update'],
      ['timing/checkpoint', 'checkpoint'],
    ]),
    line('grpo-throughput', 'Tokens per second', 'tokens / s', h.rl, [
      ['perf/sampleTokensPerSecond', 'sampling'],
      ['perf/updateTokensPerSecond', 'update'],
      ['perf/throughput', 'whole step'],
    ]),
    // Dynamic sampling with refill (rollout.maxRefillRounds): charted when the run refilled.
    ...(metricSeries(h.rl, 'refillRounds').length > 0
      ? [
          line('grpo-refill', 'Dynamic sampling: refill rounds and groups with signal', 'count', h.rl, [
            ['refillRounds', 'refill rounds'],
            ['groupsWithSignal', 'groups with signal'],
          ]),
        ]
      : []),
    {
      kind: 'bar',
      id: 'stage-time',
      title: 'Time per stage',
      yLabel: 'seconds',
      bars: result.times.map((t) => ({ label: t.stage, value: t.seconds })),
    },
  ];
  return {
    title: 'reasonloop demo: SFT → GRPO on a tiny Qwen2',
    subtitle:
      'A 3-layer Qwen2 with a byte tokenizer, fine-tuned on worked 2-digit sums, then trained with GRPO ' +
      '(STILL-3 1.5B settings at CPU scale), every stage a Temporal workflow.',
    generatedAt,
    links,
    tables: [
      table,
      {
        title: 'Time per stage',
        columns: ['stage', 'seconds'],
        rows: result.times.map((t) => [t.stage, t.seconds]),
      },
    ],
    charts,
    notes: [
      `SFT run ${result.sft.runId}: ${result.sft.step} steps; GRPO run ${result.rl.runId}: ${result.rl.step} steps.`,
      'Held-out problems come from a different seed and exclude every training problem.',
    ],
  };
}

/** The evaluation table as fixed-width text for the terminal. */
export function formatTable(t: Table): string {
  const cell = (v: string | number) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : Number.isNaN(v) ? '—' : v.toFixed(3)) : v;
  const rows = [t.columns, ...t.rows.map((r) => r.map(cell))];
  const widths = t.columns.map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  const fmt = (r: (string | number)[]) => r.map((v, c) => String(v).padEnd(widths[c])).join('  ');
  return [t.title, fmt(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(fmt)].join(
    '\n',
  );
}
