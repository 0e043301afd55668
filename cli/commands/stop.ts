/** `reasonloop stop RUN_ID`: finish the current step, checkpoint it and end the run (start it again to continue). */
import { withClient } from '../../client/connection.ts';
import { signalRun } from '../../client/runs.ts';
import { EXIT_USAGE, type Command } from '../command.ts';

const HELP = `usage: reasonloop stop RUN_ID

finish the current step, checkpoint it and end the run (start it again to continue).`;

export const stopCommand: Command = {
  name: 'stop',
  describe: 'finish the current step, checkpoint it and end the run (start it again to continue)',
  async run(argv: string[]): Promise<number> {
    if (argv[0] === '--help' || argv[0] === '-h') {
      console.log(HELP);
      return 0;
    }
    if (argv.length !== 1 || argv[0].startsWith('-')) {
      console.error(`reasonloop stop: give exactly one run id\n\n${HELP}`);
      return EXIT_USAGE;
    }
    await withClient((client) => signalRun(client, argv[0], 'stop'));
    console.log(`run ${argv[0]}: stop signal sent`);
    return 0;
  },
};
