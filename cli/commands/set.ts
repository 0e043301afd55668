/**
 * `reasonloop set RUN_ID --lr 1e-6 --kl-coef 0.001 …`: sends rlTraining's setHyperParameters update and
 * prints what it answered — the step the values apply from and the hyper-parameters in force. The run
 * validates the values itself (its update validator); a refused update prints the run's reason.
 */
import { parseArgs } from 'node:util';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import {
  HYPER_PARAMETER_NAMES,
  HyperParameterError,
  parseHyperParameters,
  type HyperParameterName,
} from '../../core/config/hyperParameters.ts';
import { withClient } from '../../client/connection.ts';
import { setHyperParametersUpdate } from '../../workflows/definitions.ts';
import { EXIT_USAGE, type Command } from '../command.ts';

/** `klCoef` → `kl-coef`: the flag of each hyper-parameter. */
export function flagOf(name: HyperParameterName): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

const HELP = `usage: reasonloop set RUN_ID [--lr X] [--kl-coef X] [--entropy-coef X] [--clip-low X]
                      [--clip-high X] [--temperature X] [--top-p X]

change hyper-parameters of a running RL run from its next step that has not started sampling.

  --lr            peak learning rate (algorithm.optimizer.lr)
  --kl-coef       KL coefficient β (algorithm.kl.coef)
  --entropy-coef  entropy bonus coefficient (algorithm.entropyCoef)
  --clip-low      PPO-clip ε_low (algorithm.clip.low)
  --clip-high     PPO-clip ε_high (algorithm.clip.high)
  --temperature   sampling temperature (rollout.temperature)
  --top-p         nucleus sampling threshold (rollout.topP)
  --json          print the update's answer as JSON`;

/** `--lr -1` → `--lr=-1`: parseArgs reads a value starting with a dash as an option. */
function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (argv[i].startsWith('--') && !argv[i].includes('=') && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

export const setCommand: Command = {
  name: 'set',
  describe:
    'change hyper-parameters (lr, KL/entropy coefficients, clip, temperature, top-p) of a running RL run',
  async run(argv: string[]): Promise<number> {
    const options: Record<string, { type: 'string' } | { type: 'boolean'; short?: string }> = {
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    };
    for (const name of HYPER_PARAMETER_NAMES) options[flagOf(name)] = { type: 'string' };
    let parsed;
    try {
      parsed = parseArgs({ args: joinNegativeValues(argv), options, allowPositionals: true, strict: true });
    } catch (error) {
      console.error(`reasonloop set: ${(error as Error).message}\n\n${HELP}`);
      return EXIT_USAGE;
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (parsed.positionals.length !== 1) {
      console.error(`reasonloop set: give exactly one run id\n\n${HELP}`);
      return EXIT_USAGE;
    }
    const update: Record<string, number> = {};
    for (const name of HYPER_PARAMETER_NAMES) {
      const text = values[flagOf(name)];
      if (typeof text !== 'string') continue;
      const value = Number(text);
      if (text.trim() === '' || Number.isNaN(value)) {
        console.error(`reasonloop set: --${flagOf(name)} must be a number (got ${JSON.stringify(text)})`);
        return EXIT_USAGE;
      }
      update[name] = value;
    }
    if (Object.keys(update).length === 0) {
      console.error(`reasonloop set: give at least one hyper-parameter\n\n${HELP}`);
      return EXIT_USAGE;
    }
    const runId = parsed.positionals[0];
    try {
      // The run's own rules, checked here so a bad value is refused before connecting.
      parseHyperParameters(update);
    } catch (error) {
      if (!(error instanceof HyperParameterError)) throw error;
      // The same exit code as when the run's own validator refuses it: a bad value, not a bad command line.
      console.error(`reasonloop set: ${error.message}`);
      return 1;
    }
    try {
      const result = await withClient((client) =>
        client.workflow.getHandle(runId).executeUpdate(setHyperParametersUpdate, { args: [update] }),
      );
      if (values.json) {
        console.log(JSON.stringify(result));
      } else {
        const shown = Object.entries(result.effective)
          .map(([k, v]) => `${k}=${v}${k in result.overrides ? '*' : ''}`)
          .join(' ');
        console.log(`run ${runId}: from step ${result.appliesFromStep}: ${shown}  (* = set by an update)`);
      }
      return 0;
    } catch (error) {
      if (!(error instanceof WorkflowUpdateFailedError)) throw error;
      // The run's validator refused it: its message names the field.
      console.error(
        `reasonloop set: run ${runId} refused the update: ${error.cause?.message ?? error.message}`,
      );
      return 1;
    }
  },
};
