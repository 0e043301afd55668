/**
 * `reasonloop train --config run.json`: validates the run config (schema, model dir, store reachable)
 * before anything starts, starts rlTraining with the run id as workflow id, and prints the equivalent
 * `temporal workflow start` line. `--wait` follows the run to its end.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { temporalStartLine } from '../../client/commandLine.ts';
import { withClient } from '../../client/connection.ts';
import { checkGpuWorkers, runQueues } from '../../client/gpuWorkers.ts';
import { preflightRun } from '../../client/preflight.ts';
import { checkTorchTrainer } from '../../client/torchTrainer.ts';
import { newestCheckpointStep, startLine, startTraining } from '../../client/runs.ts';
import { DEFAULT_WORKFLOW_QUEUE } from '../../client/workflowTypes.ts';
import { parseOptions, readConfigFile, usageError, type Command } from '../command.ts';
import { followTraining } from './followTraining.ts';

const HELP = `usage: reasonloop train --config run.json [--task-queue Q] [--wait]

  --config FILE     the run config (JSON; see examples/run.json and docs/orchestration.md)
  --task-queue Q    the workflow task queue the workers poll (default ${DEFAULT_WORKFLOW_QUEUE})
  --wait            follow the run and print its status after each step until it ends
  --check           validate only: do not start anything

Connects with TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (and the other TEMPORAL_* variables of the temporal CLI).
Starting a run id again after a failure or termination resumes it from its newest verified checkpoint.`;
const USAGE = { name: 'train', help: HELP };

export const trainCommand: Command = {
  name: 'train',
  describe: 'validate a run config and start (or resume) an RL training run on Temporal',
  run: runTrain,
};

async function runTrain(argv: string[]): Promise<number> {
  const parsed = parseOptions(USAGE, argv, {
    config: { type: 'string' },
    'task-queue': { type: 'string' },
    wait: { type: 'boolean' },
    check: { type: 'boolean' },
  });
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.values;
  if (!args.config) return usageError(USAGE, '--config is required');
  const raw = readConfigFile(args.config);
  const config = await preflightRun(raw);
  const taskQueue = args['task-queue'] ?? DEFAULT_WORKFLOW_QUEUE;
  if (args.check) {
    console.log(
      `run config ${args.config}: ok (run ${config.runId}, ${config.steps} steps, store ${config.store.url})`,
    );
    return 0;
  }
  return withClient(async (client) => {
    await checkGpuWorkers(client, runQueues(config));
    await checkTorchTrainer(client, config);
    const from = await newestCheckpointStep(config);
    let handle;
    try {
      handle = await startTraining(client, config, raw, taskQueue);
    } catch (error) {
      // After a crash and `up`, a run in flight goes on by itself: starting it again is refused by the server.
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      throw new Error(
        `run ${config.runId} is already running (\`reasonloop status ${config.runId}\` shows it)`,
      );
    }
    console.log(startLine(config.runId, from));
    console.log(
      `started run ${config.runId} (workflow ${handle.workflowId}, run ${handle.firstExecutionRunId})`,
    );
    console.log(`equivalent: ${temporalStartLine(config.runId, args.config!, taskQueue)}`);
    if (!args.wait) return 0;
    const result = await followTraining(client, config.runId, handle);
    console.log(JSON.stringify(result));
    return 0;
  });
}
