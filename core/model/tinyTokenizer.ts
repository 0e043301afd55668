/**
 * A tiny byte-level tokenizer for tiny test models: one token per byte (256, in GPT-2's byte→unicode
 * alphabet, as Qwen's tokenizer.json uses), no merges, plus Qwen's chat special tokens. It is written as a
 * standard HF tokenizer.json + tokenizer_config.json with Qwen's pre-tokenizer, so @huggingface/tokenizers
 * and the Rust `tokenizers` library both load it, and any UTF-8 text round-trips.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, type TokenizerFiles } from './modelDir.ts';

/** Bytes 0–255 take ids 0–255; the special tokens follow in this order (ids 256–260). */
export const TINY_SPECIAL_TOKENS = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<think>',
  '</think>',
] as const;
export const TINY_BYTE_TOKENS = 256;
export const TINY_VOCAB_SIZE = TINY_BYTE_TOKENS + TINY_SPECIAL_TOKENS.length;
/** Qwen marks <think> and </think> as added but not special, so decoding with skip_special_tokens keeps them. */
const NON_SPECIAL_ADDED = new Set(['<think>', '</think>']);
/** Qwen2's pre-tokenizer split pattern (from the Qwen2/Qwen2.5/Qwen3 tokenizer.json). */
const QWEN_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Context length written to tokenizer_config.json (Qwen2.5's model_max_length). */
const TINY_MODEL_MAX_LENGTH = 131072;

/**
 * A Qwen-style ChatML template (the message loop of Qwen2.5's, without tools or a default system prompt):
 * `<|im_start|>{role}\n{content}<|im_end|>\n` per message, then `<|im_start|>assistant\n` to generate.
 */
export const TINY_CHAT_TEMPLATE =
  "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}" +
  "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/**
 * GPT-2's `bytes_to_unicode`: printable bytes map to themselves, the rest to code points from 256 up, so
 * every byte is a visible character in the vocabulary.
 */
export function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map: string[] = new Array(256);
  for (const b of printable) map[b] = String.fromCodePoint(b);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (map[b] === undefined) map[b] = String.fromCodePoint(256 + next++);
  }
  return map;
}

function addedToken(id: number, content: string) {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: !NON_SPECIAL_ADDED.has(content),
  };
}

/** tokenizer.json and tokenizer_config.json of the tiny tokenizer. */
export function buildTinyTokenizer(): TokenizerFiles {
  const vocab: Record<string, number> = {};
  byteToUnicode().forEach((ch, b) => (vocab[ch] = b));
  const added = TINY_SPECIAL_TOKENS.map((t, i) => addedToken(TINY_BYTE_TOKENS + i, t));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN_SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
        byteLevel,
      ],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
  const addedTokensDecoder = Object.fromEntries(added.map(({ id, ...rest }) => [String(id), rest]));
  const tokenizerConfig = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder,
    additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
    bos_token: null,
    chat_template: TINY_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: TINY_MODEL_MAX_LENGTH,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
  };
  return { tokenizerJson, tokenizerConfig };
}

/** Writes the tiny tokenizer's two files into `dir`. */
export function writeTinyTokenizer(dir: string): void {
  const { tokenizerJson, tokenizerConfig } = buildTinyTokenizer();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, TOKENIZER_FILE), JSON.stringify(tokenizerJson, null, 2) + '\n');
  writeFileSync(join(dir, TOKENIZER_CONFIG_FILE), JSON.stringify(tokenizerConfig, null, 2) + '\n');
}
