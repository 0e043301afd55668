/**
 * Chat templates: the Jinja `chat_template` of tokenizer_config.json rendered with @huggingface/jinja and
 * the variables transformers' `apply_chat_template` passes (messages, add_generation_prompt, tools, the
 * special-token strings such as eos_token, plus any extra keyword such as enable_thinking).
 */
import { Template } from '@huggingface/jinja';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** Qwen3-style templates read a separate reasoning field when present. */
  reasoning_content?: string;
}

export interface RenderChatOptions {
  /** Append the assistant turn header so the model continues as the assistant (HF default false). */
  addGenerationPrompt?: boolean;
  tools?: unknown[];
  /** Template variables beyond the standard ones (e.g. `enable_thinking: false`). */
  extra?: Record<string, unknown>;
}

/** The special-token attributes transformers exposes to templates (`SPECIAL_TOKENS_ATTRIBUTES`). */
const SPECIAL_TOKEN_ATTRIBUTES = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;

/** A compiled chat template together with the special-token strings of its tokenizer_config.json. */
export class ChatTemplate {
  private readonly template: Template;
  private readonly specialTokens: Record<string, string>;

  constructor(source: string, specialTokens: Record<string, string> = {}) {
    this.template = new Template(source);
    this.specialTokens = specialTokens;
  }

  /** Reads `chat_template` and the special tokens from a parsed tokenizer_config.json. */
  static fromTokenizerConfig(
    tokenizerConfig: Record<string, unknown>,
    file = 'tokenizer_config.json',
  ): ChatTemplate {
    const source = tokenizerConfig.chat_template;
    if (typeof source !== 'string') {
      throw new Error(
        `${file}: no chat_template string${Array.isArray(source) ? ' (named template lists are not supported)' : ''}`,
      );
    }
    return new ChatTemplate(source, specialTokenStrings(tokenizerConfig));
  }

  render(messages: readonly ChatMessage[], options: RenderChatOptions = {}): string {
    if (messages.length === 0) throw new Error('chat template: messages must not be empty');
    const variables: Record<string, unknown> = {
      ...this.specialTokens,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      ...(options.extra ?? {}),
    };
    if (options.tools) variables.tools = options.tools;
    return this.template.render(variables);
  }
}

/** Special tokens are written either as a string or as an AddedToken object {content, ...}. */
export function specialTokenStrings(tokenizerConfig: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of SPECIAL_TOKEN_ATTRIBUTES) {
    const value = tokenizerConfig[key] as unknown;
    if (typeof value === 'string') out[key] = value;
    else if (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { content?: unknown }).content === 'string'
    ) {
      out[key] = (value as { content: string }).content;
    }
  }
  return out;
}
