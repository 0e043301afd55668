/** `reasonloop resume RUN_ID`: let a paused run continue. */
import { withClient } from '../../client/connection.ts';
import { signalRun } from '../../client/runs.ts';
import { EXIT_USAGE, type Command } from '../command.ts';

const HELP = `usage: reasonloop resume RUN_ID

let a paused run continue.`;

export const resumeCommand: Command = {
  name: 'resume',
  describe: 'let a paused run continue',
  async run(argv: string[]): Promise<number> {
    if (argv[0] === '--help' || argv[0] === '-h') {
      console.log(HELP);
      return 0;
    }
    if (argv.length !== 1 || argv[0].startsWith('-')) {
      console.error(`reasonloop resume: give exactly one run id\n\n${HELP}`);
      return EXIT_USAGE;
    }
    await withClient((client) => signalRun(client, argv[0], 'resume'));
    console.log(`run ${argv[0]}: resume signal sent`);
    return 0;
  },
};
