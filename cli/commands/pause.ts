/** `reasonloop pause RUN_ID`: hold a run before its next step (the current step finishes). */
import { withClient } from '../../client/connection.ts';
import { signalRun } from '../../client/runs.ts';
import { EXIT_USAGE, type Command } from '../command.ts';

const HELP = `usage: reasonloop pause RUN_ID

hold a run before its next step (the current step finishes).`;

export const pauseCommand: Command = {
  name: 'pause',
  describe: 'hold a run before its next step (the current step finishes)',
  async run(argv: string[]): Promise<number> {
    if (argv[0] === '--help' || argv[0] === '-h') {
      console.log(HELP);
      return 0;
    }
    if (argv.length !== 1 || argv[0].startsWith('-')) {
      console.error(`reasonloop pause: give exactly one run id\n\n${HELP}`);
      return EXIT_USAGE;
    }
    await withClient((client) => signalRun(client, argv[0], 'pause'));
    console.log(`run ${argv[0]}: pause signal sent`);
    return 0;
  },
};
