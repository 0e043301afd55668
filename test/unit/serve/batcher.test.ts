/**
 * Continuous batching: rows that join a running batch at different steps, with their own seeds, sampling
 * settings and stops, get the tokens and log-probs the Generator gives each of them alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Generator } from '../../../core/generate/generator.ts';
import { loadWeights } from '../../../core/model/modelDir.ts';
import { ContinuousBatcher, type RowJob } from '../../../core/serve/batcher.ts';
import { loadPolicyDir } from '../../../core/serve/policy.ts';
import { topIndices } from '../../../core/serve/topLogprobs.ts';

const MODEL = fileURLToPath(new URL('../../fixtures/qwen2/untied/', import.meta.url));

function job(i: number, over: Partial<RowJob> = {}): RowJob {
  const promptIds = Array.from({ length: 2 + ((i * 5) % 9) }, (_, t) => (17 + 31 * i + 7 * t) % 256);
  return {
    promptIds,
    maxNewTokens: 4 + ((i * 3) % 7),
    sampling:
      i % 3 === 0 ? { temperature: 0 } : i % 3 === 1 ? { temperature: 1 } : { temperature: 0.8, topK: 20 },
    seed: 1000 + i,
    step: 0,
    prompt: i % 2,
    sample: i % 3,
    stopTokenIds: [258],
    stopStrings: [],
    topLogprobs: i % 2 ? 3 : 0,
    ...over,
  };
}

test('rows joining at different steps get the tokens and log-probs each gets alone from the Generator', async () => {
  const policy = await loadPolicyDir(MODEL, {});
  const batcher = new ContinuousBatcher(policy.exec, policy.config, {
    maxBatch: 4,
    kvBudgetBytes: 1 << 26,
    padTokenId: 0,
    decode: (ids) => ids.join(' '),
  });
  const jobs = Array.from({ length: 10 }, (_, i) => job(i));
  const streamed: number[][] = jobs.map(() => []);
  const results = [];
  for (const [i, j] of jobs.entries()) {
    results.push(batcher.submit({ ...j, onToken: (t) => streamed[i].push(t.token) }));
    // Some arrive while others are mid-generation.
    if (i % 3 === 2) await new Promise((r) => setTimeout(r, 5));
  }
  const got = await Promise.all(results);
  await batcher.close();
  assert.ok(batcher.stats.largestBatch > 1 && batcher.stats.prefills > 1, JSON.stringify(batcher.stats));

  const generator = await Generator.create(policy.config, loadWeights(MODEL, policy.config));
  for (const [i, j] of jobs.entries()) {
    const [alone] = await generator.generate(
      [{ promptIds: j.promptIds, prompt: j.prompt, sample: j.sample }],
      {
        maxNewTokens: j.maxNewTokens,
        sampling: j.sampling,
        seed: j.seed,
        stopTokenIds: j.stopTokenIds,
      },
    );
    assert.deepEqual(got[i].tokens, alone.tokens, `row ${i}`);
    assert.equal(got[i].finishReason, alone.finishReason);
    got[i].logprobs.forEach((lp, t) =>
      assert.ok(Math.abs(lp - alone.logprobs[t]) < 1e-5, `row ${i} token ${t}`),
    );
    assert.deepEqual(streamed[i], got[i].tokens);
    if (j.topLogprobs) {
      assert.equal(got[i].top!.length, got[i].tokens.length);
      for (const top of got[i].top!) assert.equal(top.length, 3);
    } else assert.equal(got[i].top, undefined);
  }
  await policy.exec.release();
});

test('a row over the KV budget is refused with the numbers; topIndices keeps the largest, lowest index on ties', async () => {
  const policy = await loadPolicyDir(MODEL, {});
  const batcher = new ContinuousBatcher(policy.exec, policy.config, {
    maxBatch: 4,
    kvBudgetBytes: 1000,
    padTokenId: 0,
    decode: (ids) => ids.join(' '),
  });
  await assert.rejects(
    batcher.submit(job(0)),
    /needs \d+ bytes of KV cache, over the server's budget of 1000/,
  );
  await batcher.close();
  await policy.exec.release();
  assert.deepEqual(topIndices([1, 5, 3, 5, -1, 4], 3), [1, 3, 5]);
  assert.deepEqual(topIndices([2], 3), [0]);
});
