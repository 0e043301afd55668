/** The subcommand registry: one file per subcommand in this folder; add yours to the list. */
import type { Command } from '../command.ts';
import { verifyCommand } from './verify.ts';
import { generateCommand } from './generate.ts';
import { sandboxCommand } from './sandbox.ts';
import { trainCommand } from './train.ts';
import { statusCommand } from './status.ts';
import { pauseCommand, resumeCommand, stopCommand } from './runSignals.ts';
import { sftCommand } from './sft.ts';
import { evalCommand } from './eval.ts';
import { scheduleCommand } from './schedule.ts';
import { reportCommand } from './report.ts';
import { rolloutsCommand } from './rollouts.ts';
import { setCommand } from './set.ts';
import { filterCommand } from './filter.ts';
import { exportCommand } from './export.ts';
import { initModelCommand } from './initModel.ts';
import { planCommand } from './plan.ts';
import { serveCommand } from './serve.ts';

export const COMMANDS: readonly Command[] = [
  verifyCommand,
  generateCommand,
  sandboxCommand,
  trainCommand,
  statusCommand,
  pauseCommand,
  resumeCommand,
  stopCommand,
  setCommand,
  sftCommand,
  evalCommand,
  scheduleCommand,
  reportCommand,
  rolloutsCommand,
  filterCommand,
  exportCommand,
  initModelCommand,
  planCommand,
  serveCommand,
];
