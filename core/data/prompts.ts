/**
 * Prompt templates, a factor the paper studied: the model's own chat template (we hand over messages;
 * the tokenizer's template renders them), the short R1-Zero prompt that asks for `<think>`/`<answer>`,
 * and a long, detailed instruction prompt.
 */

export type PromptTemplate = 'chat' | 'r1-zero' | 'long' | 'plain';

/** `plain`: the problem text and a newline, nothing else (tiny models trained from scratch on a task). */
export const PROMPT_TEMPLATES: readonly PromptTemplate[] = ['chat', 'r1-zero', 'long', 'plain'];

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A prompt is either chat messages (rendered later by the model's chat template) or raw text. */
export type Prompt = { kind: 'messages'; messages: ChatMessage[] } | { kind: 'text'; text: string };

/** The instruction STILL-3 and the DeepSeek-R1 distilled models use after a math question. */
export const BOXED_INSTRUCTION = 'Please reason step by step, and put your final answer within \\boxed{}.';

/**
 * The DeepSeek-R1-Zero template (DeepSeek-AI 2025, Table 1). The text ends with "<think>" so the policy
 * continues inside the reasoning block; the format gate then expects "…</think> <answer>…</answer>".
 */
export function r1ZeroPrompt(problem: string): string {
  return (
    'A conversation between User and Assistant. The user asks a question, and the Assistant solves it. ' +
    'The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. ' +
    'The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, ' +
    'respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. ' +
    `User: ${problem}\nAssistant: <think>`
  );
}

/** A long instruction: how to reason, check and present the answer. */
export const LONG_INSTRUCTION = [
  'You are an expert competition mathematician. Solve the problem below.',
  'First, restate what is being asked and identify the given quantities and constraints.',
  'Then reason step by step. Try more than one approach when the first one is not conclusive, and verify',
  'intermediate results (substitute back, check special cases, check units and signs).',
  'If you find a mistake, say so and correct it before continuing.',
  'When you are confident, state the final answer exactly once, simplified, within \\boxed{}.',
  'For a number give its exact value (fractions and radicals, not decimals) unless the problem asks for an',
  'approximation; for several answers list them all in one \\boxed{}, separated by commas.',
].join('\n');

export function buildPrompt(template: PromptTemplate, problem: string, system?: string): Prompt {
  switch (template) {
    case 'chat': {
      const messages: ChatMessage[] = [];
      if (system) messages.push({ role: 'system', content: system });
      messages.push({ role: 'user', content: `${problem}\n${BOXED_INSTRUCTION}` });
      return { kind: 'messages', messages };
    }
    case 'r1-zero':
      return { kind: 'text', text: r1ZeroPrompt(problem) };
    case 'plain':
      return { kind: 'text', text: `${problem}\n` };
    case 'long': {
      const messages: ChatMessage[] = [];
      if (system) messages.push({ role: 'system', content: system });
      messages.push({ role: 'user', content: `${LONG_INSTRUCTION}\n\nProblem:\n${problem}` });
      return { kind: 'messages', messages };
    }
  }
}
