/**
 * One `reasonloop` subcommand (a name, one line of help, a run function returning the exit code), and what
 * the subcommands share to read their command line: strict option parsing with `--help`, usage errors
 * that name the command and print its help, and the `--config` file.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  name: string;
  describe: string;
  run(argv: string[]): Promise<number>;
}

/** Exit code for a command line that cannot be understood (as most Unix tools). */
export const EXIT_USAGE = 2;

/** A subcommand's name and full help text, for `--help` and its usage errors. */
export interface CommandUsage {
  name: string;
  help: string;
}

/** Prints `reasonloop <name>: <message>` and the command's help to stderr; returns EXIT_USAGE. */
export function usageError(usage: CommandUsage, message: string): number {
  console.error(`reasonloop ${usage.name}: ${message}\n\n${usage.help}`);
  return EXIT_USAGE;
}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;
type WithHelp<O extends OptionsConfig> = O & typeof HELP_OPTION;

/** The values of a strictly parsed command line with options `O` (and `help`). */
export type OptionValues<O extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: WithHelp<O>; strict: true }>
>['values'];

/**
 * Parses a subcommand's options strictly (no positionals; `--help`/`-h` added). Returns the values, or the
 * exit code when the command is already done: its help printed (0) or a usage error printed (2).
 */
export function parseOptions<O extends OptionsConfig>(
  usage: CommandUsage,
  argv: string[],
  options: O,
): { values: OptionValues<O> } | { exit: number } {
  // Inside this generic function TypeScript cannot resolve the values' type: `help` is read as what it is.
  let values: OptionValues<O> & { help?: boolean };
  try {
    values = parseArgs({ args: argv, options: { ...options, ...HELP_OPTION }, strict: true })
      .values as OptionValues<O> & { help?: boolean };
  } catch (error) {
    return { exit: usageError(usage, (error as Error).message) };
  }
  if (values.help) {
    console.log(usage.help);
    return { exit: 0 };
  }
  return { values };
}

/** Reads and parses the `--config` file (JSON); errors name the file. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`--config ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`--config ${path}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
}
