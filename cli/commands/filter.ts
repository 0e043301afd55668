/**
 * `reasonloop filter filter.json`: validates a difficulty-filter config (schema, model dir, store
 * reachable) before anything starts, starts one `difficultyFilter` workflow and prints the equivalent
 * `temporal workflow start` line. `--wait` prints the summary; `--download FILE` also saves the filtered
 * dataset where a `file` data source can read it, and prints that data source.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { temporalWorkflowStartLine } from '../../client/commandLine.ts';
import { withClient } from '../../client/connection.ts';
import { checkGpuWorkers, filterQueues } from '../../client/gpuWorkers.ts';
import { preflightFilter } from '../../client/preflight.ts';
import { DEFAULT_WORKFLOW_QUEUE, WORKFLOW_TYPES } from '../../client/workflowTypes.ts';
import type { DifficultyFilterConfigInput } from '../../core/config/difficultyFilter.ts';
import { FILTERED_DATA_FIELDS, type DifficultyFilterSummary } from '../../core/data/difficulty.ts';
import type { DataSpec } from '../../core/data/splits.ts';
import { openStore, S3ObjectStore } from '../../core/store/index.ts';
import type { difficultyFilter } from '../../workflows/difficultyFilter.ts';
import { EXIT_USAGE, readConfigFile, type Command } from '../command.ts';
import { compactTimestamp } from './eval.ts';

type FileDataSpec = Extract<DataSpec, { source: 'file' }>;

const HELP = `usage: reasonloop filter CONFIG.json [--task-queue Q] [--wait [--json] [--download FILE]] [--check]

  CONFIG.json       the difficulty-filter config (JSON; see core/config/difficultyFilter.ts); or --config FILE
  --task-queue Q    the workflow task queue the workers poll (default ${DEFAULT_WORKFLOW_QUEUE})
  --wait            wait for the filter and print its summary
  --json            with --wait: print the summary as one JSON object
  --download FILE   with --wait: save the filtered dataset (JSONL) to FILE and print the task.data that reads it
  --check           validate only: do not start anything (prints the equivalent temporal command)

Each start is a new workflow, <filterId>-<UTC timestamp>; results live in the store under filters/<filterId>/.
A run with the same model, task, sampling, seed and limit reuses the stored pass counts.`;

export const filterCommand: Command = {
  name: 'filter',
  describe: 'validate a difficulty-filter config and keep the problems a model sometimes solves',
  run: runFilter,
};

function usageError(message: string): number {
  console.error(`reasonloop filter: ${message}\n\n${HELP}`);
  return EXIT_USAGE;
}

export function filterWorkflowId(filterId: string, now: Date): string {
  return `${filterId}-${compactTimestamp(now)}`;
}

/** The `task.data` of a math task that reads a downloaded filtered dataset. */
export function filteredDataSource(path: string): FileDataSpec {
  // dedupe off: the rows are already unique problems of the source, and all of them are meant.
  return { source: 'file', path, ...FILTERED_DATA_FIELDS, answerFormat: 'plain', dedupe: false };
}

export function formatFilterSummary(s: DifficultyFilterSummary): string {
  const band = `${s.minPassRate ?? '>0'} … ${s.maxPassRate ?? '<1'}`;
  const rows: [string, string][] = [
    ['problems', `${s.total} × ${s.samples} samples (${s.skippedRows} bad rows skipped)`],
    ['kept', `${s.kept} (pass rate ${band})`],
    ['too easy', String(s.tooEasy)],
    ['too hard', String(s.tooHard)],
    ['mean pass rate', s.meanPassRate.toFixed(4)],
    ['pass rates', `${s.storeUrl} ${s.passRatesKey}`],
    ['filtered data', `${s.storeUrl} ${s.filteredKey}`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return [
    `difficulty filter ${s.filterId}: ${s.model}${s.reused ? ' (stored result)' : ''}`,
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
  ].join('\n');
}

/** Copies the filtered dataset out of the store to a local file. */
export async function downloadFiltered(
  s: DifficultyFilterSummary,
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const store = openStore(s.storeUrl, env);
  try {
    await writeFile(path, await store.get(s.filteredKey));
  } finally {
    if (store instanceof S3ObjectStore) store.destroy();
  }
}

async function runFilter(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        'task-queue': { type: 'string' },
        wait: { type: 'boolean' },
        json: { type: 'boolean' },
        download: { type: 'string' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const args = parsed.values;
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const files = [...parsed.positionals, ...(args.config ? [args.config] : [])];
  if (files.length !== 1) return usageError('name exactly one config file');
  if (args.json && !args.wait) return usageError('--json prints the summary: it needs --wait');
  if (args.download && !args.wait) return usageError('--download saves the result: it needs --wait');
  if (args.check && args.wait) return usageError('--check and --wait exclude each other');
  const configFile = files[0];
  const raw = readConfigFile(configFile);
  const config = await preflightFilter(raw);
  const taskQueue = args['task-queue'] ?? DEFAULT_WORKFLOW_QUEUE;
  const workflowId = filterWorkflowId(config.filterId, new Date());
  const equivalent = temporalWorkflowStartLine(
    WORKFLOW_TYPES.difficultyFilter,
    workflowId,
    configFile,
    taskQueue,
  );
  if (args.check) {
    console.log(`filter config ${configFile}: ok (filter ${config.filterId}, store ${config.store.url})`);
    console.log(`equivalent: ${equivalent}`);
    return 0;
  }
  return withClient(async (client) => {
    await checkGpuWorkers(client, filterQueues(config));
    const handle = await client.workflow.start<typeof difficultyFilter>(WORKFLOW_TYPES.difficultyFilter, {
      taskQueue,
      workflowId,
      args: [raw as DifficultyFilterConfigInput],
    });
    console.log(
      `started difficulty filter ${config.filterId} (workflow ${workflowId}, run ${handle.firstExecutionRunId})`,
    );
    console.log(`equivalent: ${equivalent}`);
    if (!args.wait) return 0;
    const summary = await handle.result();
    console.log(args.json ? JSON.stringify(summary) : formatFilterSummary(summary));
    if (args.download) {
      await downloadFiltered(summary, args.download);
      if (!args.json) {
        console.log(`saved ${summary.kept} problems to ${args.download}; as a task's data:`);
        console.log(JSON.stringify(filteredDataSource(args.download)));
      }
    }
    return 0;
  });
}
