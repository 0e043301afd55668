/** One `reasonloop` subcommand: a name, one line of help, and a run function returning the exit code. */
export interface Command {
  name: string;
  describe: string;
  run(argv: string[]): Promise<number>;
}

/** Exit code for a command line that cannot be understood (as most Unix tools). */
export const EXIT_USAGE = 2;
