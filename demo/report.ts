/**
 * The demo's results as a terminal table and an HTML report (core/metrics): held-out accuracy, length,
 * reflection-word rate, completion ratio and reward of the base, SFT and GRPO models; the held-out and
 * training curves of accuracy, length and reflection rate over GRPO steps (what the demo is about); the
 * other training curves read back from the runs' metrics logs (with time per phase); and a link to the
 * GRPO run's rollout browser.
 */
import type { EvaluationSummary } from '../core/metrics/evaluation.ts';
import { metricSeries, type StepMetrics } from '../core/metrics/history.ts';
import type { Chart, Link, ReportData, Table } from '../core/metrics/reportData.ts';
import { curveTable, type CurvePoint } from './curves.ts';
import type { PipelineResult } from './pipeline.ts';

export interface DemoHistories {
  sft: StepMetrics[];
  rl: StepMetrics[];
}

/** Held-out (sampled: step 0 the SFT model) and training-rollout curves over GRPO steps. */
export interface DemoCurves {
  heldOut: CurvePoint[];
  training: CurvePoint[];
}

export const STAGE_LABELS: Record<string, string> = {
  base: 'base (random init)',
  sft: 'after SFT',
  rl: 'after GRPO',
};

/** A cell of a model the evaluation did not run for (the random model is not sampled). */
const NOT_EVALUATED = '—';

const SHORT_LABELS: Record<string, string> = { base: 'base', sft: 'SFT', rl: 'GRPO' };

function evalOf(result: PipelineResult, name: string): EvaluationSummary | undefined {
  return result.evals.find((e) => e.name === name)?.summary;
}

/**
 * One row per model: greedy accuracy, then the sampled evaluation's accuracy, mean length, reflection rate,
 * completion ratio and reward (the first and last points of the held-out curve; the random model is not
 * sampled).
 */
export function evaluationTable(result: PipelineResult, curves: DemoCurves): Table {
  const sampled = result.curve[0]?.summary;
  const byStage: Record<string, { summary?: EvaluationSummary; point?: CurvePoint }> = {
    base: {},
    sft: { summary: result.curve[0]?.summary, point: curves.heldOut[0] },
    rl: { summary: result.curve.at(-1)?.summary, point: curves.heldOut.at(-1) },
  };
  return {
    title: `Held-out problems (${sampled?.problems ?? 0}, none seen in training)`,
    columns: [
      'model',
      'accuracy (greedy)',
      `accuracy (T=0.6, ${sampled?.samples ?? 0} samples)`,
      'mean length (tokens)',
      'reflection rate',
      'completion ratio',
      'mean reward',
    ],
    rows: Object.entries(byStage).map(([stage, { summary: t, point }]) =>
      [
        STAGE_LABELS[stage],
        evalOf(result, `${stage}-greedy`)?.accuracy,
        t?.accuracy,
        t?.meanLength,
        point?.reflectionRate,
        t?.completionRatio,
        t?.meanReward,
      ].map((v) => v ?? NOT_EVALUATED),
    ),
  };
}

/** The held-out curve as a table (step, accuracy, length, reflection rate, habit mix). */
export function heldOutTable(result: PipelineResult, curves: DemoCurves): Table {
  const s = result.curve[0]?.summary;
  return curveTable(
    `Held-out over GRPO steps (${s?.problems ?? 0} problems × ${s?.samples ?? 0}, T = 0.6; step 0: the SFT model)`,
    curves.heldOut,
  );
}

/** Held-out and training rollouts side by side: one metric of the curves over GRPO steps. */
function curveChart(
  id: string,
  title: string,
  yLabel: string,
  curves: DemoCurves,
  metric: (p: CurvePoint) => number,
): Chart {
  const points = (c: CurvePoint[]) => c.map((p) => ({ x: p.step, y: metric(p) }));
  return {
    kind: 'line',
    id,
    title,
    xLabel: 'GRPO step',
    yLabel,
    series: [
      { name: 'held-out (T = 0.6)', points: points(curves.heldOut) },
      { name: 'training rollouts (T = 1.0)', points: points(curves.training) },
    ],
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
  curves: DemoCurves,
  generatedAt: string,
  links: Link[] = [],
): ReportData {
  const table = evaluationTable(result, curves);
  const charts: Chart[] = [
    {
      kind: 'bar',
      id: 'heldout-accuracy',
      // Greedy decoding takes the teacher's most common habit (worked columns), right after SFT already;
      // sampling shows the mix of habits, which is what GRPO changes.
      title: 'Held-out accuracy: greedy, and sampled (T = 0.6)',
      yLabel: 'accuracy',
      bars: [
        ...['base', 'sft', 'rl'].map((s) => ({
          label: `${SHORT_LABELS[s]}, greedy`,
          value: evalOf(result, `${s}-greedy`)?.accuracy ?? NaN,
        })),
        { label: 'SFT, T = 0.6', value: result.curve[0]?.summary.accuracy ?? NaN },
        { label: 'GRPO, T = 0.6', value: result.curve.at(-1)?.summary.accuracy ?? NaN },
      ],
    },
    curveChart('curve-accuracy', 'Accuracy over GRPO steps', 'accuracy', curves, (p) => p.accuracy),
    curveChart('curve-length', 'Mean response length over GRPO steps', 'tokens', curves, (p) => p.meanLength),
    curveChart(
      'curve-reflection',
      'Reflection-word rate over GRPO steps',
      'fraction of responses',
      curves,
      (p) => p.reflectionRate,
    ),
    line('sft-loss', 'SFT loss (token-mean NLL)', 'loss', h.sft, [['loss', 'loss']]),
    line('grpo-reward', 'GRPO reward (training batch)', 'reward', h.rl, [
      ['meanTaskReward', 'task reward'],
      ['meanReward', 'reward − β·KL'],
    ]),
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
      'A 3-layer Qwen2 with a byte tokenizer, fine-tuned on 2-digit sums from a teacher that answers directly ' +
      '(always wrong), works the columns or checks its work, then trained with GRPO (STILL-3 1.5B settings at ' +
      'CPU scale): accuracy and response length both rise. Every stage a Temporal workflow.',
    generatedAt,
    links,
    tables: [
      table,
      heldOutTable(result, curves),
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
      'Habits (core/data/habitTraces.ts): direct answers nothing between <think> and </think>; checked ' +
        'says "verify" in its reasoning; worked is any other reasoning; other follows no shape. Reflection ' +
        "rate: responses with at least one of RRA's reflection words.",
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
