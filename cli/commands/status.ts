/** `reasonloop status RUN_ID [--json]`: progress and the latest metrics of a run, from its status query. */
import { parseArgs } from 'node:util';
import { withClient } from '../../client/connection.ts';
import { formatStatus, queryStatus } from '../../client/runs.ts';
import { EXIT_USAGE, type Command } from '../command.ts';

const HELP = `usage: reasonloop status RUN_ID [--json]

  --json   print the whole status object (step, totalSteps, phase, paused, lastMetrics, …)`;

export const statusCommand: Command = {
  name: 'status',
  describe: 'show the progress and latest metrics of a training run',
  async run(argv: string[]): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      console.error(`reasonloop status: ${(error as Error).message}\n\n${HELP}`);
      return EXIT_USAGE;
    }
    if (parsed.values.help) {
      console.log(HELP);
      return 0;
    }
    if (parsed.positionals.length !== 1) {
      console.error(`reasonloop status: give exactly one run id\n\n${HELP}`);
      return EXIT_USAGE;
    }
    const status = await withClient((client) => queryStatus(client, parsed.positionals[0]));
    console.log(parsed.values.json ? JSON.stringify(status) : formatStatus(status));
    return 0;
  },
};
