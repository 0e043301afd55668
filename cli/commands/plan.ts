/**
 * `reasonloop plan --config run.json [--memory 24GB]`: the memory each worker role needs for the run —
 * weights, gradients, optimizer state, activations at the configured micro-batch and lengths, KV cache,
 * logits block — and whether it fits; exit 1 with the numbers when a role does not.
 */
import { totalmem } from 'node:os';
import { runModelConfig } from '../../client/runMemory.ts';
import {
  checkMemoryPlan,
  formatMemoryPlan,
  memoryPlan,
  taskPromptTokens,
} from '../../core/config/memoryPlan.ts';
import { parseRunConfig } from '../../core/config/run.ts';
import { parseShardSize } from '../../core/model/safetensorsShards.ts';
import { qwen2ParameterCount } from '../../core/model/parameters.ts';
import { parseOptions, readConfigFile, usageError, type Command } from '../command.ts';

const HELP = `usage: reasonloop plan --config run.json [--memory SIZE] [--prompt-tokens N] [--json]

  --config FILE       the run config
  --memory SIZE       a worker's memory ("24GB", decimal units, or bytes); default this machine's total
  --prompt-tokens N   prompt length (default: the task's own, or 512 for text tasks)
  --json              print the plan as JSON

Each role's estimate is the sum of the terms of docs/model.md ("Memory estimate"). Exit 1 when a role
does not fit; \`reasonloop train\` runs the same check with this machine's memory.`;
const USAGE = { name: 'plan', help: HELP };

export const planCommand: Command = {
  name: 'plan',
  describe: 'estimate the memory of each worker role of a run config, and refuse one that cannot fit',
  run: runPlan,
};

async function runPlan(argv: string[]): Promise<number> {
  const parsed = parseOptions(USAGE, argv, {
    config: { type: 'string' },
    memory: { type: 'string' },
    'prompt-tokens': { type: 'string' },
    json: { type: 'boolean' },
  });
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.values;
  if (!args.config) return usageError(USAGE, '--config is required');
  let memory: number;
  let promptTokens: number | undefined;
  try {
    memory = args.memory === undefined ? totalmem() : parseShardSize(args.memory);
    if (args['prompt-tokens'] !== undefined) {
      promptTokens = Number(args['prompt-tokens']);
      if (!Number.isInteger(promptTokens) || promptTokens < 1)
        throw new Error(`--prompt-tokens must be a whole number ≥ 1 (got ${args['prompt-tokens']})`);
    }
  } catch (error) {
    return usageError(USAGE, (error as Error).message.replace('max shard size', '--memory'));
  }
  const run = parseRunConfig(readConfigFile(args.config));
  const model = await runModelConfig(run);
  const prompt = promptTokens ?? taskPromptTokens(run);
  const plan = memoryPlan(model, run, prompt);
  if (args.json) {
    console.log(
      JSON.stringify({ parameters: qwen2ParameterCount(model), promptTokens: prompt, memory, roles: plan }),
    );
  } else {
    console.log(
      `${run.runId}: ${qwen2ParameterCount(model).toLocaleString('en-US')} parameters, ` +
        `${prompt} prompt + ${run.rollout.maxNewTokens} new tokens, micro-batch ${run.algorithm.microBatchSize}`,
    );
    for (const line of formatMemoryPlan(plan, memory)) console.log(line);
  }
  checkMemoryPlan(plan, memory);
  return 0;
}
