/**
 * The `reasonloop` command: dispatches `reasonloop <subcommand> [args]` to the registry in commands/.
 */
import { pathToFileURL } from 'node:url';
import { failureCause, isTemporalFailure } from '../client/failureCause.ts';
import { EXIT_USAGE, type Command } from './command.ts';
import { COMMANDS } from './commands/index.ts';

export function usage(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: reasonloop <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.describe}`),
    '',
    'Run `reasonloop <command> --help` for the options of one command.',
  ].join('\n');
}

export async function main(argv: string[], commands: readonly Command[] = COMMANDS): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage(commands));
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`reasonloop: unknown command "${name}"\n\n${usage(commands)}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    // Errors from core/ name what is wrong (file, tensor, field); the stack only with REASONLOOP_DEBUG=1.
    // A failed workflow's own message says nothing: its root cause (the activity's error) is shown.
    const message = isTemporalFailure(err) ? `the workflow ${failureCause(err)}` : (err as Error).message;
    console.error(`reasonloop ${name}: ${process.env.REASONLOOP_DEBUG ? (err as Error).stack : message}`);
    return EXIT_FAILURE;
  }
}

/** Exit code for a command that understood its arguments but failed (bad model dir, unreachable S3, …). */
export const EXIT_FAILURE = 1;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
