/**
 * `reasonloop sft --config sft.json`: validates the SFT config (schema, model dir, store reachable) before
 * anything starts, starts sftTraining with the run id as workflow id, and prints the equivalent
 * `temporal workflow start` line. `--wait` follows the run to its end.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { temporalWorkflowStartLine } from '../../client/commandLine.ts';
import { withClient } from '../../client/connection.ts';
import { checkGpuWorkers, sftQueues } from '../../client/gpuWorkers.ts';
import { preflightSft } from '../../client/preflight.ts';
import { DEFAULT_WORKFLOW_QUEUE, WORKFLOW_TYPES } from '../../client/workflowTypes.ts';
import type { SftConfigInput } from '../../core/config/sft.ts';
import type { sftTraining } from '../../workflows/sftTraining.ts';
import { parseOptions, readConfigFile, usageError, type Command } from '../command.ts';
import { followTraining } from './followTraining.ts';

const HELP = `usage: reasonloop sft --config sft.json [--task-queue Q] [--wait] [--check]

  --config FILE     the SFT config (JSON; see core/config/sft.ts)
  --task-queue Q    the workflow task queue the workers poll (default ${DEFAULT_WORKFLOW_QUEUE})
  --wait            follow the run and print its status after each checkpoint until it ends
  --check           validate only: do not start anything (prints the equivalent temporal command)

Connects with TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (and the other TEMPORAL_* variables of the temporal CLI).
Starting a run id again after a failure or termination resumes it from its newest verified checkpoint;
status, pause, resume and stop work on SFT runs as on RL runs.`;
const USAGE = { name: 'sft', help: HELP };

export const sftCommand: Command = {
  name: 'sft',
  describe: 'validate an SFT config and start (or resume) a supervised fine-tuning run on Temporal',
  run: runSft,
};

async function runSft(argv: string[]): Promise<number> {
  const parsed = parseOptions(USAGE, argv, {
    config: { type: 'string' },
    'task-queue': { type: 'string' },
    wait: { type: 'boolean' },
    check: { type: 'boolean' },
  });
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.values;
  if (!args.config) return usageError(USAGE, '--config is required');
  if (args.check && args.wait) return usageError(USAGE, '--check and --wait exclude each other');
  const configFile = args.config;
  const raw = readConfigFile(configFile);
  const config = await preflightSft(raw);
  const taskQueue = args['task-queue'] ?? DEFAULT_WORKFLOW_QUEUE;
  const equivalent = temporalWorkflowStartLine(
    WORKFLOW_TYPES.sftTraining,
    config.runId,
    configFile,
    taskQueue,
  );
  if (args.check) {
    console.log(
      `sft config ${configFile}: ok (run ${config.runId}, ${config.steps} steps, store ${config.store.url})`,
    );
    console.log(`equivalent: ${equivalent}`);
    return 0;
  }
  return withClient(async (client) => {
    await checkGpuWorkers(client, sftQueues(config));
    // The run id is the workflow id, so a second start of a live run is refused by the server.
    let handle;
    try {
      handle = await client.workflow.start<typeof sftTraining>(WORKFLOW_TYPES.sftTraining, {
        taskQueue,
        workflowId: config.runId,
        args: [raw as SftConfigInput],
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      throw new Error(
        `run ${config.runId} is already running (\`reasonloop status ${config.runId}\` shows it)`,
      );
    }
    console.log(
      `started SFT run ${config.runId} (workflow ${handle.workflowId}, run ${handle.firstExecutionRunId})`,
    );
    console.log(`equivalent: ${equivalent}`);
    if (!args.wait) return 0;
    console.log(JSON.stringify(await followTraining(client, config.runId, handle)));
    return 0;
  });
}
