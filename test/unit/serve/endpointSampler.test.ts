/**
 * Sampling through `reasonloop serve` with the Generator's contract: sampled responses with tool turns
 * (a stop string ends a turn, the hook's tokens are inserted, a new request continues) equal the in-process
 * Generator's token for token, with the same seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Generator } from '../../../core/generate/generator.ts';
import type { GenerateOptions, GenerationRequest } from '../../../core/generate/generation.ts';
import { loadModelDir } from '../../../core/model/modelDir.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import { generateFromEndpoint } from '../../../core/serve/endpointSampler.ts';
import { loadPolicyDir } from '../../../core/serve/policy.ts';
import { ServeApp } from '../../../core/serve/server.ts';

const MODEL = fileURLToPath(new URL('../../fixtures/qwen2/untied/', import.meta.url));

test('sampled responses with tool turns: the endpoint path equals the in-process Generator', async () => {
  const model = loadModelDir(MODEL);
  const tokenizer = new QwenTokenizer(model.tokenizer!);
  const generator = await Generator.create(model.config, model.weights);
  const requests: GenerationRequest[] = [];
  for (let p = 0; p < 3; p++)
    for (let k = 0; k < 2; k++)
      requests.push({ promptIds: tokenizer.encode(`problem ${p}: `), prompt: p, sample: k });
  const base: GenerateOptions = {
    maxNewTokens: 24,
    sampling: { temperature: 1 },
    seed: 9,
    step: 2,
    stopTokenIds: [258],
  };
  // A stop string that the plain responses contain: a printable character of the first one.
  const plain = await generator.generate(requests, base);
  const text = tokenizer.decode(plain[0].tokens);
  const stop = [...text].find((ch) => ch.trim() !== '' && ch !== '\uFFFD');
  assert.ok(stop, `no printable character in ${JSON.stringify(text)}`);
  const turns = new Map<string, number>();
  const opts: GenerateOptions = {
    ...base,
    stopStrings: [stop],
    decode: (ids) => tokenizer.decode(ids),
    // The first turn of each response gets "[ok]" inserted; the second ends it.
    onTurnEnd: ({ request }) => {
      const key = `${request.prompt}/${request.sample}`;
      const n = (turns.get(key) ?? 0) + 1;
      turns.set(key, n);
      return n === 1 ? tokenizer.encode('[ok]') : undefined;
    },
  };
  const local = await generator.generate(requests, opts);
  const localTurns = new Map(turns);
  turns.clear();

  const app = new ServeApp(await loadPolicyDir(MODEL, {}), {
    modelName: 'toy',
    maxBatch: 8,
    maxQueue: 64,
    kvBudgetBytes: 1 << 26,
    load: () => Promise.reject(new Error('no loads here')),
  });
  try {
    const { port } = await app.listen(0, '127.0.0.1');
    const remote = await generateFromEndpoint(
      { url: `http://127.0.0.1:${port}/v1`, model: 'toy' },
      requests,
      opts,
    );
    assert.deepEqual(turns, localTurns);
    assert.ok(
      [...turns.values()].some((n) => n > 0),
      'no tool turn happened',
    );
    remote.forEach((r, i) => {
      assert.deepEqual(r.tokens, local[i].tokens, `request ${i}`);
      assert.deepEqual(r.sampled, local[i].sampled);
      assert.equal(r.finishReason, local[i].finishReason);
      r.logprobs.forEach((lp, t) =>
        assert.ok(Math.abs(lp - local[i].logprobs[t]) < 1e-4, `request ${i} token ${t}`),
      );
    });
    assert.ok(
      remote.some((r) => r.sampled.includes(false)),
      'no inserted tokens',
    );
  } finally {
    await app.close();
  }
});

test("stop tokens are the caller's alone: a server does not end a row at the model's EOS the Generator goes past", async () => {
  const model = loadModelDir(MODEL);
  const tokenizer = new QwenTokenizer(model.tokenizer!);
  const generator = await Generator.create(model.config, model.weights);
  const requests: GenerationRequest[] = [];
  for (let p = 0; p < 8; p++)
    for (let k = 0; k < 2; k++)
      requests.push({ promptIds: tokenizer.encode(`problem ${p}: `), prompt: p, sample: k });
  const opts: GenerateOptions = { maxNewTokens: 48, sampling: { temperature: 1 }, seed: 9, step: 2 };
  const eos = model.config.eosTokenId[0];
  // The precondition: these draws reach the model's EOS (258) in some row.
  const stopped = await generator.generate(requests, { ...opts, stopTokenIds: [eos] });
  assert.ok(
    stopped.some((g) => g.finishReason === 'stop'),
    'no row drew the EOS: the test shows nothing',
  );
  const local = await generator.generate(requests, { ...opts, stopTokenIds: [] });
  const app = new ServeApp(await loadPolicyDir(MODEL, {}), {
    modelName: 'toy',
    maxBatch: 16,
    maxQueue: 64,
    kvBudgetBytes: 1 << 26,
    load: () => Promise.reject(new Error('no loads here')),
  });
  try {
    const { port } = await app.listen(0, '127.0.0.1');
    const remote = await generateFromEndpoint(
      { url: `http://127.0.0.1:${port}/v1`, model: 'toy' },
      requests,
      {
        ...opts,
        stopTokenIds: [],
      },
    );
    remote.forEach((r, i) => {
      assert.deepEqual(r.tokens, local[i].tokens, `request ${i}`);
      assert.equal(r.finishReason, local[i].finishReason, `request ${i}`);
    });
  } finally {
    await app.close();
  }
});
