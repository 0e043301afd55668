/**
 * Evaluations on a timer, as Temporal Schedules: the schedule's options, its equivalent `temporal schedule
 * create` line, and the durations both are written in.
 */
import { ScheduleOverlapPolicy, type ScheduleOptions } from '@temporalio/client';
import type { EvaluationConfig, EvaluationConfigInput } from '../core/config/evaluation.ts';
import { shellWord } from './commandLine.ts';
import { WORKFLOW_TYPES } from './workflowTypes.ts';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30s`, `10m`, `2h`, `1d`, `1h30m` → milliseconds; the error names the bad value. */
export function parseDuration(text: string, flag = '--every'): number {
  if (!/^(\d+[smhd])+$/.test(text)) {
    throw new Error(
      `${flag} ${JSON.stringify(text)}: not a duration (a number and a unit s, m, h or d: 30s, 10m, 2h, 1d, 1h30m)`,
    );
  }
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([smhd])/g))
    ms += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new Error(`${flag} ${JSON.stringify(text)}: must be a positive duration`);
  }
  return ms;
}

/** Milliseconds as a Go duration (`24h`, `1h30m`, `45s`): the temporal CLI parses `--interval` with Go. */
export function goDuration(ms: number): string {
  const h = Math.floor(ms / UNIT_MS.h);
  const m = Math.floor((ms % UNIT_MS.h) / UNIT_MS.m);
  const s = (ms % UNIT_MS.m) / UNIT_MS.s;
  const text = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return text || '0s';
}

/** The Schedule: every `everyMs`, start `evaluation` with the config; skip a firing while one runs. */
export function evaluationScheduleOptions(
  scheduleId: string,
  everyMs: number,
  config: EvaluationConfig,
  raw: unknown,
  taskQueue: string,
): ScheduleOptions {
  return {
    scheduleId,
    spec: { intervals: [{ every: everyMs }] },
    action: {
      type: 'startWorkflow',
      workflowType: WORKFLOW_TYPES.evaluation,
      // The server appends each firing's timestamp: <evalId>-<timestamp>.
      workflowId: config.evalId,
      taskQueue,
      args: [raw as EvaluationConfigInput],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP },
  };
}

/** `temporal schedule create …`: the same schedule, as one line of the temporal CLI. */
export function temporalScheduleCreateLine(
  scheduleId: string,
  everyMs: number,
  workflowId: string,
  configFile: string,
  taskQueue: string,
): string {
  return [
    'temporal schedule create',
    `--schedule-id ${shellWord(scheduleId)}`,
    `--interval ${goDuration(everyMs)}`,
    '--overlap-policy Skip',
    // `--type`, as `temporal workflow start`: CLI 1.x has no `--workflow-type` (older docs show one).
    `--type ${WORKFLOW_TYPES.evaluation}`,
    `--task-queue ${shellWord(taskQueue)}`,
    `--workflow-id ${shellWord(workflowId)}`,
    `--input-file ${shellWord(configFile)}`,
  ].join(' ');
}
