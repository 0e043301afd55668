/**
 * `reasonloop pause|resume|stop RUN_ID`: the signals of an RL or SFT run, one command each, all made by
 * `signalCommand` so their help, usage errors and output read the same.
 */
import { withClient } from '../../client/connection.ts';
import { signalRun, type RunSignal } from '../../client/runs.ts';
import { EXIT_USAGE, type Command } from '../command.ts';

/** A command that sends `signal` to the run named by its one argument; `describe` is its help line. */
function signalCommand(signal: RunSignal, describe: string): Command {
  const help = `usage: reasonloop ${signal} RUN_ID\n\n${describe}.`;
  return {
    name: signal,
    describe,
    async run(argv: string[]): Promise<number> {
      if (argv[0] === '--help' || argv[0] === '-h') {
        console.log(help);
        return 0;
      }
      if (argv.length !== 1 || argv[0].startsWith('-')) {
        console.error(`reasonloop ${signal}: give exactly one run id\n\n${help}`);
        return EXIT_USAGE;
      }
      await withClient((client) => signalRun(client, argv[0], signal));
      console.log(`run ${argv[0]}: ${signal} signal sent`);
      return 0;
    },
  };
}

export const pauseCommand = signalCommand(
  'pause',
  'hold a run before its next step (the current step finishes)',
);
export const resumeCommand = signalCommand('resume', 'let a paused run continue');
export const stopCommand = signalCommand(
  'stop',
  'finish the current step, checkpoint it and end the run (start it again to continue)',
);
