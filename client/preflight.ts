/**
 * Checks a config before any workflow starts (`reasonloop train|sft|eval|filter`): the schema and its
 * cross-field rules, the model directory read deeply (preflightChecks.ts), the first rows of local data
 * files, a store written, read back and cleaned, and the rollout servers of `rollout.engine` answering.
 * Every error names the field it is about; a failed preflight writes nothing. The prepare activities run
 * the model-directory and store checks again, for runs started with `temporal workflow start`.
 */
import { parseDifficultyFilterConfig, type DifficultyFilterConfig } from '../core/config/difficultyFilter.ts';
import { parseEvaluationConfig, type EvaluationConfig } from '../core/config/evaluation.ts';
import { parseRunConfig, type RunConfig } from '../core/config/run.ts';
import { parseSftConfig, type SftConfig } from '../core/config/sft.ts';
import { checkSolutionsFile } from '../core/data/dataCheck.ts';
import { checkEndpointServes, checkEndpointsServe } from './endpointCheck.ts';
import { checkConfigStore, checkModelDirField, checkPositions, checkTaskData } from './preflightChecks.ts';
import { checkRunMemory } from './runMemory.ts';

export { checkConfigStore, checkStoreReachable } from './preflightChecks.ts';

/** A math task's shortest prompt: the chat template's framing alone takes more (Qwen's ≈ 10 tokens). */
const MIN_MATH_PROMPT_TOKENS = 1;

/** A run's model directory read deeply, its vocabulary against the task's tokens, positions for its lengths. */
export function checkModelDir(config: RunConfig): void {
  const dir = config.model.dir;
  if (dir === undefined) return;
  const math = config.task.kind === 'math';
  const model = checkModelDirField(dir, 'run.model.dir', math);
  if (config.task.kind === 'math') {
    checkPositions(model, config.rollout.maxNewTokens, MIN_MATH_PROMPT_TOKENS, 'run.rollout.maxNewTokens');
    return;
  }
  const needed = Math.max(config.task.separatorToken, config.task.eosToken) + 1;
  if (model.config.vocabSize < needed) {
    throw new Error(
      `run.model.dir ${dir}: vocab_size ${model.config.vocabSize} does not cover the task's tokens (at least ${needed})`,
    );
  }
  checkPositions(model, config.rollout.maxNewTokens, config.task.digits + 1, 'run.rollout.maxNewTokens');
}

/** The parsed config when the run can start; throws RunConfigError or an Error naming the field. */
export async function preflightRun(raw: unknown, env: NodeJS.ProcessEnv = process.env): Promise<RunConfig> {
  const config = parseRunConfig(raw);
  checkModelDir(config);
  await checkTaskData(config.task, 'run.task');
  await checkConfigStore(config.store.url, 'run.store.url', env);
  // Every rollout server answers and serves its model: a typo or a server not started is named now, not
  // as step 1's failing attempts. (Not in prepareRun: a server may be started on the run's own step-0
  // checkpoint, which prepareRun writes.)
  const engine = config.rollout.engine;
  if (engine?.kind === 'openai') await checkEndpointsServe(engine.endpoints, 'run.rollout.engine.endpoints');
  // Last: a checkpoint source's config.json is read from the store checked just above.
  await checkRunMemory(config, env);
  return config;
}

/** The parsed config when the SFT run can start: schema, model directory, store reachable. */
export async function preflightSft(raw: unknown, env: NodeJS.ProcessEnv = process.env): Promise<SftConfig> {
  const config = parseSftConfig(raw);
  if (config.model.dir !== undefined) checkModelDirField(config.model.dir, 'sft.model.dir', true);
  await checkTaskData(config.task, 'sft.task');
  if (config.sft.solutions) await checkSolutionsFile(config.sft.solutions, 'sft.sft.solutions.path');
  await checkConfigStore(config.store.url, 'sft.store.url', env);
  return config;
}

/** The parsed config when the evaluation can start: schema, model directory, store reachable. */
export async function preflightEvaluation(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
): Promise<EvaluationConfig> {
  const config = parseEvaluationConfig(raw);
  if (config.model.dir !== undefined) {
    const math = config.task.kind === 'math';
    const model = checkModelDirField(config.model.dir, 'evaluation.model.dir', math);
    if (math) {
      checkPositions(
        model,
        config.sampling.maxNewTokens,
        MIN_MATH_PROMPT_TOKENS,
        'evaluation.sampling.maxNewTokens',
      );
    }
  }
  const endpoint = config.model.endpoint;
  if (endpoint !== undefined) {
    checkModelDirField(
      endpoint.tokenizer,
      'evaluation.model.endpoint.tokenizer',
      config.task.kind === 'math',
    );
    await checkEndpointServes(endpoint.url, endpoint.model, 'evaluation.model.endpoint');
  }
  await checkTaskData(config.task, 'evaluation.task');
  await checkConfigStore(config.store.url, 'evaluation.store.url', env);
  return config;
}

/** The parsed config when the filter can start: schema, model directory, store reachable. */
export async function preflightFilter(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DifficultyFilterConfig> {
  const config = parseDifficultyFilterConfig(raw);
  if (config.model.dir !== undefined) {
    const model = checkModelDirField(config.model.dir, 'filter.model.dir', true);
    checkPositions(
      model,
      config.sampling.maxNewTokens,
      MIN_MATH_PROMPT_TOKENS,
      'filter.sampling.maxNewTokens',
    );
  }
  await checkTaskData(config.task, 'filter.task');
  await checkConfigStore(config.store.url, 'filter.store.url', env);
  return config;
}
