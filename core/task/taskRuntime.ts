/** The runtime of a run's task config: reverseDigits on token ids, or math over the loaded problems. */
import type { TaskConfig } from '../config/task.ts';
import { loadTaskProblems } from '../data/splits.ts';
import type { QwenTokenizer } from '../model/tokenizer.ts';
import { mathRuntime } from './math.ts';
import { reverseDigitsRuntime } from './reverseDigits.ts';
import type { TaskRuntime } from './types.ts';

/** The runtime of a task; `tokenizer` is required for a math task. */
export async function taskRuntime(
  task: TaskConfig,
  tokenizer: QwenTokenizer | undefined,
  modelEos: readonly number[],
): Promise<TaskRuntime> {
  if (task.kind === 'reverseDigits') return reverseDigitsRuntime(task);
  if (!tokenizer) throw new Error('math task: the model has no tokenizer');
  const { problems, skipped } = await loadTaskProblems(task.data);
  return mathRuntime(task, problems, tokenizer, modelEos, skipped.count);
}
