/**
 * The reverseDigits task: the prompt is a `digits`-digit string and a separator, the target its digits
 * reversed and EOS. It works on token ids alone (no tokenizer), so a tiny model can learn it on a CPU.
 */
import type { ReverseDigitsTask } from '../config/task.ts';
import type { TaskRuntime } from './types.ts';

/** Every `digits`-digit string is one problem. */
export function reverseDigitsSize(task: ReverseDigitsTask): number {
  return 10 ** task.digits;
}

export function reverseDigitsOf(task: ReverseDigitsTask, index: number): number[] {
  return String(index).padStart(task.digits, '0').split('').map(Number);
}

export function reverseDigitsPromptIds(task: ReverseDigitsTask, index: number): number[] {
  return [...reverseDigitsOf(task, index), task.separatorToken];
}

/** Fraction of the target (reversed digits, then EOS) reproduced position by position, in [0, 1]. */
export function reverseDigitsReward(
  task: ReverseDigitsTask,
  index: number,
  response: readonly number[],
): number {
  const target = [...reverseDigitsOf(task, index)].reverse().concat([task.eosToken]);
  return target.reduce((n, tok, k) => n + (response[k] === tok ? 1 : 0), 0) / target.length;
}

export function reverseDigitsRuntime(task: ReverseDigitsTask): TaskRuntime {
  return {
    size: reverseDigitsSize(task),
    promptIds: (i) => reverseDigitsPromptIds(task, i),
    stopTokenIds: [task.eosToken],
    scoreGroup: (i, responses) => {
      const rewards = responses.map((r) => reverseDigitsReward(task, i, r.tokens));
      return {
        rewards,
        correct: rewards.map((r) => r === 1),
        lossMask: rewards.map(() => 1),
        keep: true,
      };
    },
    responseText: (tokens) => tokens.join(' '),
    generation: async () => ({}),
    skippedRows: 0,
  };
}
