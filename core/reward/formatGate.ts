/**
 * The zero-RL format gate (DESIGN.md §6, after DeepSeek-R1-Zero): the response must contain exactly one
 * `<think>…</think>` followed by exactly one `<answer>…</answer>`, and nothing after the answer; otherwise
 * the reward is 0 whatever the answer.
 */

export interface FormatGateOptions {
  /** The prompt already ends with `<think>` (the R1-Zero template does), so the response starts inside it. */
  thinkOpenedInPrompt?: boolean;
}

export interface FormatGateResult {
  ok: boolean;
  reason: string;
  /** Text inside `<answer>…</answer>` when the format is right. */
  answer?: string;
}

function count(text: string, tag: string): number {
  let n = 0;
  for (let i = text.indexOf(tag); i >= 0; i = text.indexOf(tag, i + tag.length)) n++;
  return n;
}

export function zeroFormatGate(response: string, o: FormatGateOptions = {}): FormatGateResult {
  const text = o.thinkOpenedInPrompt ? `<think>${response}` : response;
  for (const tag of ['<think>', '</think>', '<answer>', '</answer>']) {
    const n = count(text, tag);
    if (n !== 1) return { ok: false, reason: `expected exactly one ${tag}, found ${n}` };
  }
  const m = /^\s*<think>([\s\S]*)<\/think>\s*<answer>([\s\S]*)<\/answer>\s*$/.exec(text);
  if (!m) return { ok: false, reason: 'expected <think>…</think> then <answer>…</answer> and nothing else' };
  if (m[2].trim() === '') return { ok: false, reason: 'empty <answer>' };
  return { ok: true, reason: 'format ok', answer: m[2] };
}

/** Zero-RL reward: 1 when the format gate passes and the answer is correct, else 0. */
export function zeroReward(formatOk: boolean, correct: boolean): number {
  return formatOk && correct ? 1 : 0;
}
