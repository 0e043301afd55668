/** The subcommand registry: one file per subcommand in this folder; add yours to the list. */
import type { Command } from '../command.ts';
import { verifyCommand } from './verify.ts';
import { generateCommand } from './generate.ts';
import { sandboxCommand } from './sandbox.ts';

export const COMMANDS: readonly Command[] = [verifyCommand, generateCommand, sandboxCommand];
