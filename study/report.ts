/**
 * The study's report: a table of the paper's findings with the miniature's difference, its 95% interval
 * and a verdict; a table of every arm; the length strategies against the base arm; bar charts per factor
 * with intervals, and each factor's arms over training steps (study/curves.ts). Also as Markdown, for the
 * README's "What the miniature shows".
 */
import type { Bar, Chart, ReportData, Table } from '../core/metrics/reportData.ts';
import { ARMS, FINDINGS, FULL_SCALE, TOOL_SFT_STEPS, type Finding, type StudyScale } from './arms.ts';
import { factorCurveChart } from './curves.ts';
import { lengthStrategiesTable, rraCheck } from './lengthStrategies.ts';
import { armEstimate, difference, quantile95, verdictOf, type ArmMetric, type SeedResult } from './stats.ts';
import { STUDY_TASK_NOTES, type StudyTask } from './tasks.ts';

export interface StudyResults {
  /** The task every arm ran on (study/tasks.ts). */
  task: StudyTask;
  scale: StudyScale;
  command: string;
  /** SFT steps of the model every arm starts from (the tool arm's has TOOL_SFT_STEPS). */
  sftSteps: number;
  /** The SFT model every arm starts from. */
  sft: SeedResult;
  arms: Record<string, SeedResult[]>;
  totalSeconds: number;
}

const fmt = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

const METRIC_NAMES: Record<Finding['metric'], string> = {
  accuracy: 'held-out accuracy (T = 0.6)',
  accuracyT1: 'held-out accuracy (T = 1.0)',
  length: 'response length (T = 0.6)',
  lengthT1: 'response length (T = 1.0)',
};

export function findingsTable(r: StudyResults): Table {
  return {
    title: 'Findings of the paper, in miniature',
    columns: ['factor', 'paper finding', 'metric', 'difference (95% CI)', 'verdict'],
    rows: FINDINGS.map((f) => {
      const d = difference(
        armEstimate(r.arms[f.better] ?? [], f.metric),
        armEstimate(r.arms[f.worse] ?? [], f.metric),
      );
      const digits = f.metric === 'length' || f.metric === 'lengthT1' ? 2 : 3;
      return [
        f.factor,
        f.paper,
        `${METRIC_NAMES[f.metric]}: ${f.better} − ${f.worse}`,
        `${fmt(d.diff, digits)} [${fmt(d.low, digits)}, ${fmt(d.high, digits)}]`,
        verdictOf(f, d),
      ];
    }),
  };
}

export function armsTable(r: StudyResults): Table {
  return {
    title: `Arms (${r.scale.seeds} seed${r.scale.seeds > 1 ? 's' : ''}, ${r.scale.steps} GRPO steps each, from the same SFT model)`,
    columns: [
      'arm',
      'factor',
      'setting',
      'accuracy T=0.6 (mean ± 95%)',
      'accuracy T=1.0 (mean ± 95%)',
      'accuracy greedy',
      'mean length',
      'reflection rate',
      'mean length T=1.0',
      'reflection rate T=1.0',
    ],
    rows: [
      [
        'sft',
        'start',
        'the SFT model, before RL',
        fmt(r.sft.accuracy),
        fmt(r.sft.accuracyT1 ?? NaN),
        fmt(r.sft.greedyAccuracy),
        fmt(r.sft.meanLength, 2),
        fmt(r.sft.reflectionRate),
        fmt(r.sft.meanLengthT1 ?? NaN, 2),
        fmt(r.sft.reflectionRateT1 ?? NaN),
      ],
      ...ARMS.map((a) => {
        const seeds = r.arms[a.id] ?? [];
        const e = armEstimate(seeds, 'accuracy');
        const t1 = armEstimate(seeds, 'accuracyT1');
        const greedy = seeds.reduce((s, x) => s + x.greedyAccuracy, 0) / Math.max(1, seeds.length);
        const length = armEstimate(seeds, 'length');
        const reflection = armEstimate(seeds, 'reflection');
        const [lengthT1, reflectionT1] = [armEstimate(seeds, 'lengthT1'), armEstimate(seeds, 'reflectionT1')];
        return [
          a.id,
          a.factor,
          a.label,
          `${fmt(e.mean)} ± ${fmt(quantile95(e.df) * e.se)}`,
          `${fmt(t1.mean)} ± ${fmt(quantile95(t1.df) * t1.se)}`,
          fmt(greedy),
          fmt(length.mean, 2),
          fmt(reflection.mean),
          fmt(lengthT1.mean, 2),
          fmt(reflectionT1.mean),
        ];
      }),
    ],
  };
}

const METRIC_TITLES: Record<ArmMetric, { title: string; yLabel: string }> = {
  accuracy: { title: 'held-out accuracy (T = 0.6)', yLabel: 'accuracy' },
  accuracyT1: { title: 'held-out accuracy (T = 1.0)', yLabel: 'accuracy' },
  length: { title: 'mean response length (T = 0.6)', yLabel: 'tokens' },
  lengthT1: { title: 'mean response length (T = 1.0)', yLabel: 'tokens' },
  reflection: { title: 'reflection-word rate (T = 0.6)', yLabel: 'fraction of responses' },
  reflectionT1: { title: 'reflection-word rate (T = 1.0)', yLabel: 'fraction of responses' },
};

function factorChart(r: StudyResults, factor: string, metric: ArmMetric, id: string): Chart {
  const ids = ['base', ...ARMS.filter((a) => a.factor === factor).map((a) => a.id)];
  const bars: Bar[] = ids.map((armId) => {
    const e = armEstimate(r.arms[armId] ?? [], metric);
    const half = quantile95(e.df) * e.se;
    return { label: armId, value: e.mean, low: e.mean - half, high: e.mean + half };
  });
  return {
    kind: 'bar',
    id,
    title: `${factor}: ${METRIC_TITLES[metric].title}`,
    yLabel: METRIC_TITLES[metric].yLabel,
    bars,
  };
}

export function studyReport(r: StudyResults, generatedAt: string): ReportData {
  const factors = [
    'batch size',
    'on/off-policy',
    'rollouts per prompt',
    'temperature',
    'KL',
    'length strategy',
  ];
  const charts: Chart[] = factors.map((f, i) => factorChart(r, f, 'accuracy', `factor-${i}`));
  factors.forEach((f, i) => charts.push(factorChart(r, f, 'accuracyT1', `factor-t1-${i}`)));
  charts.push(factorChart(r, 'length strategy', 'length', 'length-strategies-length'));
  charts.push(factorChart(r, 'length strategy', 'reflection', 'length-strategies-reflection'));
  charts.push(factorChart(r, 'length strategy', 'lengthT1', 'length-strategies-length-t1'));
  charts.push(factorChart(r, 'length strategy', 'reflectionT1', 'length-strategies-reflection-t1'));
  factors.forEach((f, i) => charts.push(factorCurveChart(r.arms, f, 'accuracy', `curve-accuracy-${i}`)));
  charts.push(factorCurveChart(r.arms, 'length strategy', 'meanLength', 'curve-length-strategies-length'));
  charts.push(
    factorCurveChart(r.arms, 'length strategy', 'reflectionRate', 'curve-length-strategies-reflection'),
  );
  charts.push(factorCurveChart(r.arms, 'tool use', 'accuracy', 'curve-tools-accuracy'));
  const task = STUDY_TASK_NOTES[r.task];
  return {
    title: 'The STILL-3 factor study in miniature',
    subtitle: `Every arm changes one factor of a base GRPO recipe on ${task.start}. ${r.command}`,
    generatedAt,
    tables: [findingsTable(r), armsTable(r), lengthStrategiesTable(r)],
    charts,
    notes: [
      r.scale.seeds > 1
        ? `Intervals: Student's t over ${r.scale.seeds} seeds.`
        : `One seed per arm: intervals are the sampling error over held-out responses only (too narrow: they ignore seed-to-seed variation); the full study uses ${FULL_SCALE.seeds} seeds.`,
      `Tool use: the tool arm starts from a second SFT model, fine-tuned for ${TOOL_SFT_STEPS} steps (the task's ` +
        `SFT: ${r.sftSteps}) on ${task.tools}. It is compared with the base arm (no tool).`,
      'Held-out accuracy and length are measured twice: sampled as the paper evaluates (T = 0.6, top-p 0.95) ' +
        'and at the training temperature (T = 1.0, no top-p), the policy as GRPO sampled it; the second still ' +
        "separates arms that all reach the first one's ceiling, and shows habits the first one's top-p cuts. The line charts are the training rollouts per GRPO step " +
        "(at each arm's own temperature), mean over seeds.",
      task.length,
      rraCheck(r),
      `Total time ${fmt(r.totalSeconds / 60, 1)} min.`,
    ],
  };
}

/** A table as GitHub Markdown. */
export function markdownTable(t: Table): string {
  const esc = (v: string | number) => String(v).replace(/\|/g, '\\|');
  return [
    `| ${t.columns.map(esc).join(' | ')} |`,
    `| ${t.columns.map(() => '---').join(' | ')} |`,
    ...t.rows.map((row) => `| ${row.map(esc).join(' | ')} |`),
  ].join('\n');
}
