/** A math problem's prompt as the model sees it: the configured template rendered to token ids. */
import type { MathTask } from '../config/task.ts';
import { buildPrompt } from '../data/prompts.ts';
import type { QwenTokenizer } from '../model/tokenizer.ts';

/** The prompt of a math problem as token ids: chat templates rendered by the tokenizer, text as is. */
export function mathPromptIds(task: MathTask, tokenizer: QwenTokenizer, problem: string): number[] {
  const prompt = buildPrompt(task.prompt.template, problem, task.prompt.system);
  return prompt.kind === 'messages'
    ? tokenizer.encodeChat(prompt.messages, { addGenerationPrompt: true })
    : tokenizer.encode(prompt.text);
}
