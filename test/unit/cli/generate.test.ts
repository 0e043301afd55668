/** `reasonloop generate` on the committed HF fixtures: JSON shape, greedy tokens, errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { capture } from './capture.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/qwen2/', import.meta.url));

test('--prompt-ids on a directory without tokenizer files: greedy tokens as transformers, no text; --weight-dtype', async () => {
  const ref = JSON.parse(readFileSync(`${FIXTURES}tied/reference.json`, 'utf8'));
  const argv = [
    'generate',
    '--model',
    `${FIXTURES}tied`,
    '--prompt-ids',
    ref.greedy_prompt.join(','),
    '--max-new-tokens',
    '8',
    '--temperature',
    '0',
    '--json',
  ];
  const r = await capture(argv);
  assert.equal(r.code, 0, r.err);
  const json = JSON.parse(r.out);
  assert.deepEqual(Object.keys(json), ['tokens', 'logprobs', 'finishReason']);
  assert.deepEqual(json.tokens, ref.greedy_tokens);
  assert.equal(json.logprobs.length, 8);
  assert.equal(json.finishReason, 'length');

  // Half-precision matrices: the same greedy tokens here, log-probs moved by the rounding only.
  const half = await capture([...argv, '--weight-dtype', 'float16']);
  assert.equal(half.code, 0, half.err);
  const halfJson = JSON.parse(half.out);
  assert.deepEqual(halfJson.tokens, ref.greedy_tokens);
  const moved = halfJson.logprobs.map((lp: number, i: number) => Math.abs(lp - json.logprobs[i]));
  assert.ok(Math.max(...moved) > 0 && Math.max(...moved) < 1e-2, `log-prob moves ${moved}`);
  const bad = await capture([...argv, '--weight-dtype', 'int8']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--weight-dtype must be one of float32, float16 \(got int8\)/);
});

test('--prompt with a tokenizer gives text; the same seed gives the same sample', async () => {
  const argv = [
    'generate',
    '--model',
    `${FIXTURES}untied`,
    '--prompt',
    'Hello',
    '--max-new-tokens',
    '5',
    '--seed',
    '3',
    '--json',
  ];
  const a = JSON.parse((await capture(argv)).out);
  const b = JSON.parse((await capture(argv)).out);
  assert.equal(typeof a.text, 'string');
  assert.deepEqual(a, b);
});

test('bad input: a missing tokenizer for --prompt, a token id outside the vocabulary, no prompt', async () => {
  const noTok = await capture(['generate', '--model', `${FIXTURES}tied`, '--prompt', 'hi']);
  assert.equal(noTok.code, 1);
  assert.match(noTok.err, /tokenizer\.json: missing/);
  const badId = await capture(['generate', '--model', `${FIXTURES}tied`, '--prompt-ids', '1,99999']);
  assert.equal(badId.code, 2);
  assert.match(badId.err, /entry 1 is not a token id below vocab_size 300/);
  const none = await capture(['generate', '--model', `${FIXTURES}tied`]);
  assert.match(none.err, /exactly one of --prompt and --prompt-ids/);
});

test('--device: a bad name is a usage error; cuda without a usable GPU fails before loading, naming why', async () => {
  const withDevice = (device: string) =>
    capture(['generate', '--model', `${FIXTURES}tied`, '--prompt-ids', '1', '--device', device]);
  const bad = await withDevice('gpu');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--device: "gpu" is not a device/);
  // cuda:99 exists on no machine, so this holds where a GPU is present too.
  const cuda = await withDevice('cuda:99');
  assert.equal(cuda.code, 1);
  assert.match(cuda.err, /device cuda:99 is not usable \(no fall back to cpu\)/);
});
