/**
 * The math task: problems rendered with the prompt template and the model's tokenizer, responses decoded
 * and scored with `scoreGroup` (verifier, reward, length strategy), tool turns when the task has `tools`.
 */
import type { MathTask } from '../config/task.ts';
import type { SyntheticProblem } from '../data/synthetic.ts';
import type { QwenTokenizer } from '../model/tokenizer.ts';
import { mathPromptIds } from './prompts.ts';
import { scoreGroup } from './scoreGroup.ts';
import { mathStopTokenIds } from './stops.ts';
import { toolHooks } from './toolHooks.ts';
import type { TaskRuntime } from './types.ts';

export function mathRuntime(
  task: MathTask,
  problems: readonly SyntheticProblem[],
  tokenizer: QwenTokenizer,
  modelEos: readonly number[],
  skippedRows = 0,
): TaskRuntime {
  if (problems.length === 0) throw new Error('math task: the data has no usable problems');
  const promptCache = new Map<number, number[]>();
  const text = (tokens: readonly number[]) => tokenizer.decode(tokens, true);
  return {
    size: problems.length,
    promptIds: (i) => {
      let ids = promptCache.get(i);
      if (!ids) {
        ids = mathPromptIds(task, tokenizer, problems[i].problem);
        promptCache.set(i, ids);
      }
      return ids;
    },
    stopTokenIds: mathStopTokenIds(tokenizer, modelEos),
    scoreGroup: (i, responses) => {
      const p = problems[i];
      const scored = scoreGroup(task.reward, {
        gold: p.answer,
        countdown: p.countdown,
        responses: responses.map((r) => ({
          text: text(r.tokens),
          length: r.tokens.length,
          truncated: r.finishReason === 'length',
        })),
      });
      return {
        rewards: scored.rewards,
        correct: scored.correct,
        lossMask: scored.lossMask,
        keep: scored.keep,
        reasons: scored.reasons,
        parts: scored.parts,
      };
    },
    responseText: text,
    generation: async (metrics) => (task.tools ? toolHooks(task.tools, tokenizer, metrics) : {}),
    skippedRows,
  };
}
