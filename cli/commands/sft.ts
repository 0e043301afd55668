/**
 * `reasonloop sft --config sft.json`: validates the SFT config (schema, model dir, store reachable) before
 * anything starts, starts sftTraining with the run id as workflow id, and prints the equivalent
 * `temporal workflow start` line. `--wait` follows the run to its end.
 */
import { checkGpuWorkers, sftQueues } from '../../activities/gpuWorkers.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { parseSftConfig, type SftConfig, type SftConfigInput } from '../../core/config/sft.ts';
import { DEFAULT_WORKFLOW_QUEUE, withClient } from '../../workflows/client.ts';
import type { sftTraining } from '../../workflows/sftTraining.ts';
import { parseOptions, readConfigFile, usageError, type Command } from '../command.ts';
import { checkConfigStore, followTraining, temporalWorkflowStartLine } from './workflowStart.ts';

/** The workflow type name (workflows/sftTraining.ts). */
export const SFT_TRAINING = 'sftTraining';

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

/** The parsed config when the run can start: schema, model directory, store reachable. */
export async function preflightSft(raw: unknown, env: NodeJS.ProcessEnv = process.env): Promise<SftConfig> {
  const config = parseSftConfig(raw);
  const dir = config.model.dir;
  if (dir !== undefined && !existsSync(join(dir, 'config.json'))) {
    throw new Error(`sft.model.dir ${dir}: not an HF model directory (no config.json)`);
  }
  await checkConfigStore(config.store.url, 'sft.store.url', env);
  return config;
}

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
  const equivalent = temporalWorkflowStartLine(SFT_TRAINING, config.runId, configFile, taskQueue);
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
      handle = await client.workflow.start<typeof sftTraining>(SFT_TRAINING, {
        taskQueue,
        workflowId: config.runId,
        args: [raw as SftConfigInput],
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      throw new Error(
        `run ${config.runId} is already running (\`reasonloop status ${config.runId}\` shows it)`,
        { cause: error },
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
