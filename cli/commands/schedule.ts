/**
 * `reasonloop schedule create|delete|list`: evaluations on a timer, as Temporal Schedules. The action
 * starts the `evaluation` workflow with the config as its argument; with `model.checkpoint` and no step,
 * each firing evaluates the run's newest verified checkpoint, so a schedule follows a training run.
 */
import { parseArgs } from 'node:util';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, type ScheduleSummary } from '@temporalio/client';
import { withClient } from '../../client/connection.ts';
import { preflightEvaluation } from '../../client/preflight.ts';
import {
  evaluationScheduleOptions,
  goDuration,
  parseDuration,
  temporalScheduleCreateLine,
} from '../../client/schedule.ts';
import { DEFAULT_WORKFLOW_QUEUE } from '../../client/workflowTypes.ts';
import type { EvaluationConfig } from '../../core/config/evaluation.ts';
import { EXIT_USAGE, readConfigFile, type Command } from '../command.ts';

const HELP = `usage: reasonloop schedule create --config eval.json --every 30m [--schedule-id ID]
                                [--task-queue Q] [--allow-fixed-step] [--check]
       reasonloop schedule delete SCHEDULE_ID
       reasonloop schedule list [--json]

  --config FILE       the evaluation config (JSON; see core/config/evaluation.ts)
  --every DURATION    how often: a number and a unit s, m, h or d (30s, 10m, 2h, 1d, 1h30m)
  --schedule-id ID    the schedule's id (default: the config's evalId)
  --task-queue Q      the workflow task queue the workers poll (default ${DEFAULT_WORKFLOW_QUEUE})
  --allow-fixed-step  accept a model.checkpoint with a step (every firing evaluates that same checkpoint)
  --check             validate only: create nothing (prints the equivalent temporal command)

A firing while the previous evaluation still runs is skipped (overlap policy Skip). Each firing starts
workflow <evalId>-<timestamp>; results live in the store under evals/<evalId>/.`;

export const scheduleCommand: Command = {
  name: 'schedule',
  describe: 'create, delete or list Temporal Schedules that evaluate the newest checkpoint of a run',
  run: runSchedule,
};

function usageError(message: string): number {
  console.error(`reasonloop schedule: ${message}\n\n${HELP}`);
  return EXIT_USAGE;
}

/**
 * Why a schedule of this config would be pointless, if it would: a checkpoint with a step is the same
 * model at every firing (and evaluateModel returns the stored summary of a model it already evaluated).
 */
export function fixedStepProblem(config: EvaluationConfig): string | undefined {
  const checkpoint = config.model.checkpoint;
  if (checkpoint?.step === undefined) return undefined;
  return (
    `evaluation.model.checkpoint.step is ${checkpoint.step}: a schedule would evaluate the same checkpoint ` +
    `of run ${checkpoint.runId} at every firing. Leave out the step to evaluate the run's newest verified ` +
    `checkpoint each time, or pass --allow-fixed-step`
  );
}

/** One line per schedule: id, workflow type, interval, paused, next firing. */
export function formatScheduleSummary(s: ScheduleSummary): string {
  const intervals = (s.spec?.intervals ?? []).map((i) => `every ${goDuration(Number(i.every))}`);
  const next = s.info.nextActionTimes[0];
  return [
    s.scheduleId,
    s.action?.workflowType ?? '?',
    intervals.join(', ') || '(no interval)',
    s.state.paused ? 'paused' : '',
    next ? `next ${next.toISOString()}` : '',
    `${s.info.recentActions.length} recent`,
  ]
    .filter(Boolean)
    .join('  ');
}

async function createSchedule(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        every: { type: 'string' },
        'schedule-id': { type: 'string' },
        'task-queue': { type: 'string' },
        'allow-fixed-step': { type: 'boolean' },
        check: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (error) {
    return usageError((error as Error).message);
  }
  if (!args.config) return usageError('create: --config is required');
  if (!args.every) return usageError('create: --every is required (e.g. --every 30m)');
  let everyMs: number;
  try {
    everyMs = parseDuration(args.every);
  } catch (error) {
    return usageError((error as Error).message);
  }
  const configFile = args.config;
  const raw = readConfigFile(configFile);
  const config = await preflightEvaluation(raw);
  const problem = fixedStepProblem(config);
  if (problem && !args['allow-fixed-step']) return usageError(problem);
  const scheduleId = args['schedule-id'] ?? config.evalId;
  const taskQueue = args['task-queue'] ?? DEFAULT_WORKFLOW_QUEUE;
  const equivalent = temporalScheduleCreateLine(scheduleId, everyMs, config.evalId, configFile, taskQueue);
  if (args.check) {
    console.log(
      `evaluation config ${configFile}: ok (eval ${config.evalId}, every ${goDuration(everyMs)}, store ${config.store.url})`,
    );
    console.log(`equivalent: ${equivalent}`);
    return 0;
  }
  return withClient(async (client) => {
    try {
      await client.schedule.create(evaluationScheduleOptions(scheduleId, everyMs, config, raw, taskQueue));
    } catch (error) {
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
      throw new Error(
        `schedule ${scheduleId} already exists (delete it first, or give another --schedule-id)`,
        { cause: error },
      );
    }
    console.log(`created schedule ${scheduleId}: evaluation ${config.evalId} every ${goDuration(everyMs)}`);
    console.log(`equivalent: ${equivalent}`);
    return 0;
  });
}

async function deleteSchedule(argv: string[]): Promise<number> {
  if (argv.length !== 1 || argv[0].startsWith('-')) return usageError('delete: give exactly one schedule id');
  const scheduleId = argv[0];
  try {
    await withClient((client) => client.schedule.getHandle(scheduleId).delete());
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    throw new Error(`no schedule ${scheduleId} (\`reasonloop schedule list\` shows them)`, { cause: error });
  }
  console.log(`deleted schedule ${scheduleId} (evaluations it started are left alone)`);
  return 0;
}

async function listSchedules(argv: string[]): Promise<number> {
  let json;
  try {
    json = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, strict: true }).values.json;
  } catch (error) {
    return usageError(`list: ${(error as Error).message}`);
  }
  const summaries = await withClient(async (client) => {
    const all: ScheduleSummary[] = [];
    for await (const s of client.schedule.list()) all.push(s);
    return all;
  });
  for (const s of summaries) console.log(json ? JSON.stringify(s) : formatScheduleSummary(s));
  if (!json && summaries.length === 0) console.log('no schedules');
  return 0;
}

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  create: createSchedule,
  delete: deleteSchedule,
  list: listSchedules,
};

async function runSchedule(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || rest.includes('--help') || rest.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  if (sub === undefined) return usageError('give a subcommand: create, delete or list');
  const run = SUBCOMMANDS[sub];
  if (!run) return usageError(`unknown subcommand ${JSON.stringify(sub)} (create, delete or list)`);
  return run(rest);
}
