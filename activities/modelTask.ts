/**
 * The task environment of an evaluation or a difficulty filter, built with the model's own tokenizer and
 * end-of-sequence ids. A task that cannot be built (a missing data file, a tokenizer the task needs) fails
 * the same way on every attempt: a non-retryable config failure.
 */
import { QwenTokenizer } from '../core/model/tokenizer.ts';
import type { QwenModelDir } from '../core/model/modelDir.ts';
import { taskRuntime } from '../core/task/taskRuntime.ts';
import type { TaskRuntime } from '../core/task/types.ts';
import { FAILURE, permanent } from './failures.ts';

export async function modelTask(
  task: Parameters<typeof taskRuntime>[0],
  model: Omit<QwenModelDir, 'weights'>,
): Promise<TaskRuntime> {
  try {
    return await taskRuntime(
      task,
      model.tokenizer && new QwenTokenizer(model.tokenizer),
      model.config.eosTokenId,
    );
  } catch (error) {
    throw permanent(FAILURE.config, `task: ${(error as Error).message}`);
  }
}
