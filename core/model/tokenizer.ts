/**
 * Text ⇄ token ids through @huggingface/tokenizers on an HF tokenizer.json, with the chat template of
 * tokenizer_config.json. One object per model directory; what generation and the reward code need:
 * encode, decode, special-token ids and the chat prompt.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import {
  ChatTemplate,
  specialTokenStrings,
  type ChatMessage,
  type RenderChatOptions,
} from './chatTemplate.ts';
import { join } from 'node:path';
import { loadTokenizerFiles, TOKENIZER_FILE, type TokenizerFiles } from './modelDir.ts';

export class QwenTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly template: ChatTemplate | undefined;
  /** eos_token, pad_token, … of tokenizer_config.json, as strings. */
  readonly specialTokens: Record<string, string>;

  constructor(files: TokenizerFiles) {
    this.tokenizer = new Tokenizer(files.tokenizerJson, files.tokenizerConfig);
    this.specialTokens = specialTokenStrings(files.tokenizerConfig);
    this.template =
      typeof files.tokenizerConfig.chat_template === 'string'
        ? ChatTemplate.fromTokenizerConfig(files.tokenizerConfig)
        : undefined;
  }

  /** Loads tokenizer.json + tokenizer_config.json from a model directory (both required). */
  static fromDir(dir: string): QwenTokenizer {
    const files = loadTokenizerFiles(dir, true)!;
    try {
      return new QwenTokenizer(files);
    } catch (error) {
      // The files parse as JSON but not as a tokenizer: name them, or the user has nothing to go on.
      throw new Error(`${join(dir, TOKENIZER_FILE)}: not a usable tokenizer (${(error as Error).message})`, {
        cause: error,
      });
    }
  }

  /**
   * Token ids of `text`. Special-token strings inside the text (e.g. "<|im_end|>" from a rendered chat
   * template) become their single ids, as in transformers. Qwen tokenizers add no BOS either way.
   */
  encode(text: string, addSpecialTokens = false): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  decode(ids: readonly number[], skipSpecialTokens = false): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: skipSpecialTokens });
  }

  /** The id of a token string (a special token or a vocabulary entry), or an error naming it. */
  tokenId(token: string): number {
    const id = this.tokenizer.token_to_id(token);
    if (id === undefined) throw new Error(`tokenizer: no token ${JSON.stringify(token)} in the vocabulary`);
    return id;
  }

  /** The id of eos_token from tokenizer_config.json (for Qwen chat models, <|im_end|>). */
  get eosTokenId(): number | undefined {
    const eos = this.specialTokens.eos_token;
    return eos === undefined ? undefined : this.tokenizer.token_to_id(eos);
  }

  /** The id of pad_token, if the tokenizer names one. */
  get padTokenId(): number | undefined {
    const pad = this.specialTokens.pad_token;
    return pad === undefined ? undefined : this.tokenizer.token_to_id(pad);
  }

  /** Vocabulary size including added tokens (may be below the model's padded vocab_size). */
  get size(): number {
    return this.tokenizer.get_vocab(true).size;
  }

  /** The largest token id the tokenizer can emit: the model's vocab_size must exceed it. */
  get maxTokenId(): number {
    let max = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) if (id > max) max = id;
    return max;
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  /** The chat rendered by the tokenizer's template, as text. */
  renderChat(messages: readonly ChatMessage[], options: RenderChatOptions = {}): string {
    if (!this.template) throw new Error('tokenizer_config.json has no chat_template');
    return this.template.render(messages, options);
  }

  /** The chat rendered and encoded (what `apply_chat_template(..., tokenize=True)` returns). */
  encodeChat(messages: readonly ChatMessage[], options: RenderChatOptions = {}): number[] {
    return this.encode(this.renderChat(messages, options));
  }
}
