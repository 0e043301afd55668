/**
 * The `reverseDigits` task (core/config/run.ts): problem i of a `digits`-digit dataset is i written in
 * base 10 with leading zeros; the answer is those digits reversed, then EOS, checked in code.
 */
import type { RunConfig } from '../core/config/run.ts';

type Task = RunConfig['task'];

/** Every `digits`-digit string is one problem. */
export function taskSize(task: Task): number {
  return 10 ** task.digits;
}

export function taskDigits(task: Task, index: number): number[] {
  return String(index).padStart(task.digits, '0').split('').map(Number);
}

export function taskPromptIds(task: Task, index: number): number[] {
  return [...taskDigits(task, index), task.separatorToken];
}

/** Fraction of the target (reversed digits, then EOS) reproduced position by position, in [0, 1]. */
export function taskReward(task: Task, index: number, response: readonly number[]): number {
  const target = [...taskDigits(task, index)].reverse().concat([task.eosToken]);
  return target.reduce((n, tok, k) => n + (response[k] === tok ? 1 : 0), 0) / target.length;
}
