/**
 * `reasonloop report --store URL --run A [--run B …] --out report.html`: the metrics log of each run (RL or
 * SFT) as one HTML file — a line chart per metric, one series per run, and a table of each metric's last
 * value per run — linking to each RL run's rollout browser, written beside it.
 */
import { metricSeries, runMetricsHistory, type StepMetrics } from '../../core/metrics/history.ts';
import { writeReport } from '../../core/metrics/report.ts';
import { DEFAULT_BROWSER_STEPS, writeRolloutBrowsers } from '../../core/metrics/rolloutBrowser.ts';
import type { LineChart, ReportData, Table } from '../../core/metrics/reportData.ts';
import { openStore, S3ObjectStore, type ObjectStore } from '../../core/store/index.ts';
import { parseOptions, usageError, type Command } from '../command.ts';

const HELP = `usage: reasonloop report --store URL --run RUN_ID [--run RUN_ID …] --out report.html [--title T]
                        [--rollout-steps N]

  --store URL          the store the runs wrote to (s3://bucket/prefix, file:///path or a folder)
  --run RUN_ID         a run (RL or SFT) whose per-step metrics to plot; repeat to compare runs
  --out FILE           the HTML file to write (one self-contained file: inline CSS and SVG)
  --title T            the report's title (default: the run ids)
  --rollout-steps N    recorded steps in each RL run's rollout browser, spread over the run (default ${DEFAULT_BROWSER_STEPS});
                       the browser is FILE's name + -rollouts-RUN_ID.html, linked from the report`;
const USAGE = { name: 'report', help: HELP };

export const reportCommand: Command = {
  name: 'report',
  describe: 'write an HTML report with a chart per metric of one or more runs',
  run: runReport,
};

export interface RunHistory {
  runId: string;
  history: StepMetrics[];
}

/** Every metric name any run recorded, sorted (so a report's layout does not depend on run order). */
export function metricNames(runs: readonly RunHistory[]): string[] {
  const names = new Set<string>();
  for (const r of runs) for (const h of r.history) for (const name of Object.keys(h.metrics)) names.add(name);
  return [...names].sort();
}

/** The newest finite value of a metric and its step, if the run has one. */
export function lastValue(
  history: readonly StepMetrics[],
  name: string,
): { step: number; value: number } | undefined {
  const points = metricSeries(history, name);
  const last = points.at(-1);
  return last && { step: last.x, value: last.y };
}

/** Chart ids must be `[A-Za-z0-9_-]+` and unique; metric names may hold `.` or `/`. */
function chartId(index: number, name: string): string {
  return `m${index}-${name.replace(/[^A-Za-z0-9_-]+/g, '_')}`;
}

export function runsReportData(runs: readonly RunHistory[], title: string, now: Date): ReportData {
  const names = metricNames(runs);
  const charts: LineChart[] = names.map((name, i) => ({
    kind: 'line',
    id: chartId(i, name),
    title: name,
    xLabel: 'step',
    yLabel: name,
    series: runs.map((r) => ({ name: r.runId, points: metricSeries(r.history, name) })),
  }));
  const steps: Table = {
    title: 'Runs',
    columns: ['run', 'first step', 'last step', 'steps recorded'],
    rows: runs.map((r) => [r.runId, r.history[0].step, r.history.at(-1)!.step, r.history.length]),
  };
  const last: Table = {
    title: 'Last value of each metric',
    columns: ['metric', ...runs.map((r) => r.runId)],
    rows: names.map((name) => [
      name,
      ...runs.map((r) => {
        const v = lastValue(r.history, name);
        return v === undefined ? '' : v.value;
      }),
    ]),
  };
  return {
    title,
    subtitle: `${names.length} metrics of ${runs.length} run${runs.length === 1 ? '' : 's'}, per step`,
    generatedAt: now.toISOString(),
    tables: [steps, last],
    charts,
  };
}

/** Reads each run's metrics log; a run with none is named (a typo, or a run that never checkpointed). */
export async function readRunHistories(
  store: ObjectStore,
  storeUrl: string,
  runIds: readonly string[],
): Promise<RunHistory[]> {
  const runs: RunHistory[] = [];
  for (const runId of runIds) {
    const history = await runMetricsHistory(store, runId);
    if (history.length === 0) {
      throw new Error(
        `run ${runId}: no metrics in store ${storeUrl} (runs/${runId}/metrics/ is empty: unknown run id, or no checkpoint yet)`,
      );
    }
    runs.push({ runId, history });
  }
  return runs;
}

async function runReport(argv: string[]): Promise<number> {
  const parsed = parseOptions(USAGE, argv, {
    store: { type: 'string' },
    run: { type: 'string', multiple: true },
    out: { type: 'string' },
    title: { type: 'string' },
    'rollout-steps': { type: 'string' },
  });
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.values;
  if (!args.store) return usageError(USAGE, '--store is required');
  if (!args.run || args.run.length === 0)
    return usageError(USAGE, '--run is required (repeat it to compare runs)');
  if (!args.out) return usageError(USAGE, '--out is required');
  const rolloutSteps =
    args['rollout-steps'] === undefined ? DEFAULT_BROWSER_STEPS : Number(args['rollout-steps']);
  if (!Number.isSafeInteger(rolloutSteps) || rolloutSteps < 1) {
    return usageError(USAGE, `--rollout-steps must be a positive integer (got ${args['rollout-steps']})`);
  }
  const duplicate = args.run.find((r, i) => args.run!.indexOf(r) !== i);
  if (duplicate !== undefined) return usageError(USAGE, `--run ${duplicate} is given twice`);
  let store: ObjectStore;
  try {
    store = openStore(args.store);
  } catch (error) {
    return usageError(USAGE, `--store: ${(error as Error).message}`);
  }
  try {
    const runs = await readRunHistories(store, args.store, args.run);
    const title = args.title ?? `reasonloop: ${args.run.join(', ')}`;
    const now = new Date();
    const links = await writeRolloutBrowsers(store, args.run, args.out, now.toISOString(), rolloutSteps);
    console.log(writeReport(args.out, { ...runsReportData(runs, title, now), links }));
    return 0;
  } finally {
    if (store instanceof S3ObjectStore) store.destroy();
  }
}
