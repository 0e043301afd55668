/**
 * Generation on the KV-cache decode graph, checked against the full-recomputation forward graph (which
 * itself matches HF transformers, test/unit/model/qwen2Parity.test.ts) and against HF's greedy tokens.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Executable } from '../../../core/graph/index.ts';
import type { Feeds } from '../../../core/graph/index.ts';
import { loadModelDir } from '../../../core/model/modelDir.ts';
import type { QwenModelDir } from '../../../core/model/modelDir.ts';
import { buildQwen2Logits } from '../../../core/model/qwen2.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import { Generator } from '../../../core/generate/generator.ts';

const DIR = fileURLToPath(new URL('../../fixtures/qwen2/untied/', import.meta.url));
/** The bound for generation log-probs vs the forward graph. */
const LOGPROB_TOLERANCE = 1e-5;

let model: QwenModelDir;
let generator: Generator;
let forward: Executable;
let weights: Feeds;

before(async () => {
  model = loadModelDir(DIR);
  generator = await Generator.create(model.config, model.weights);
  const fwd = buildQwen2Logits(model.config);
  forward = await Executable.compile(fwd.graph);
  weights = {};
  for (const [name, v] of fwd.params)
    weights[name] = { data: model.weights.get(name)!, dims: v.shape as number[] };
});

/** log softmax(logits/T) of `tokens[i]` after prompt+tokens[:i], by full recomputation (float64 in JS). */
async function recomputedLogprobs(
  prompt: number[],
  tokens: number[],
  temperature: number,
): Promise<number[]> {
  const seq = [...prompt, ...tokens];
  const ids = BigInt64Array.from(seq.map(BigInt));
  const out = await forward.run({
    ...weights,
    input_ids: { data: ids, dims: [1, seq.length] },
    attention_mask: { data: ids.map(() => 1n), dims: [1, seq.length] },
    position_ids: { data: BigInt64Array.from(seq.map((_, i) => BigInt(i))), dims: [1, seq.length] },
  });
  const V = model.config.vocabSize;
  const logits = out.logits.data as Float32Array;
  return tokens.map((tok, i) => {
    const row = logits.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x / temperature);
    let sum = 0;
    for (const x of row) sum += Math.exp(x / temperature - max);
    return row[tok] / temperature - max - Math.log(sum);
  });
}

test('greedy decoding with the KV cache gives transformers’ greedy tokens', async () => {
  const ref = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8'));
  const [g] = await generator.generate([{ promptIds: ref.greedy_prompt, prompt: 0, sample: 0 }], {
    maxNewTokens: ref.greedy_tokens.length,
    sampling: { temperature: 0 },
    seed: 0,
  });
  assert.deepEqual(g.tokens, ref.greedy_tokens);
  assert.equal(g.finishReason, 'length');
});

test('sampled tokens and their log-probs equal full recomputation; batching with left padding changes nothing', async () => {
  const prompts = [
    [257, 72, 101, 108],
    [257, 50, 43, 50, 61, 10, 65],
    [257, 99],
  ];
  const opts = { maxNewTokens: 12, sampling: { temperature: 1.0 }, seed: 42, step: 3 };
  const batched = await generator.generate(
    prompts.map((p, i) => ({ promptIds: p, prompt: i, sample: 0 })),
    opts,
  );
  for (const [i, p] of prompts.entries()) {
    const [alone] = await generator.generate([{ promptIds: p, prompt: i, sample: 0 }], opts);
    assert.deepEqual(batched[i].tokens, alone.tokens, `prompt ${i}: batch vs alone`);
    const want = await recomputedLogprobs(p, alone.tokens, 1.0);
    alone.logprobs.forEach((lp, k) =>
      assert.ok(Math.abs(lp - want[k]) <= LOGPROB_TOLERANCE, `prompt ${i} token ${k}: ${lp} vs ${want[k]}`),
    );
    batched[i].logprobs.forEach((lp, k) => assert.ok(Math.abs(lp - want[k]) <= LOGPROB_TOLERANCE));
  }
  // Different samples of one prompt draw different random numbers.
  const two = await generator.generate(
    [0, 1].map((s) => ({ promptIds: prompts[0], prompt: 0, sample: s })),
    opts,
  );
  assert.notDeepEqual(two[0].tokens, two[1].tokens);
});

test('temperature scales the returned log-probs as the policy at that temperature', async () => {
  const p = [257, 116, 104];
  const [g] = await generator.generate([{ promptIds: p, prompt: 0, sample: 0 }], {
    maxNewTokens: 6,
    sampling: { temperature: 0.6, topP: 0.95 },
    seed: 1,
  });
  const want = await recomputedLogprobs(p, g.tokens, 0.6);
  g.logprobs.forEach((lp, k) => assert.ok(Math.abs(lp - want[k]) <= LOGPROB_TOLERANCE, `token ${k}`));
});

test('a stop token ends a response with reason "stop"; the limit ends it with "length"', async () => {
  const p = [257, 72, 101];
  const [free] = await generator.generate([{ promptIds: p, prompt: 0, sample: 0 }], {
    maxNewTokens: 10,
    sampling: { temperature: 1 },
    seed: 7,
  });
  const stopAt = free.tokens[4];
  const firstIndex = free.tokens.indexOf(stopAt);
  const [stopped] = await generator.generate([{ promptIds: p, prompt: 0, sample: 0 }], {
    maxNewTokens: 10,
    sampling: { temperature: 1 },
    seed: 7,
    stopTokenIds: [stopAt],
  });
  assert.equal(stopped.finishReason, 'stop');
  assert.deepEqual(stopped.tokens, free.tokens.slice(0, firstIndex + 1));
  assert.equal(free.finishReason, 'length');
  assert.equal(free.tokens.length, 10);
});

test('the turn hook splices tokens into a response: fed to the model, marked not sampled', async () => {
  const tok = QwenTokenizer.fromDir(DIR);
  const p = tok.encode('Q: 2+2=');
  const opts = { maxNewTokens: 16, sampling: { temperature: 1 }, seed: 11 };
  const [free] = await generator.generate([{ promptIds: p, prompt: 0, sample: 0 }], opts);
  // Use the text of the 3rd sampled token as a "stop string" so the hook fires deterministically.
  const stop = tok.decode([free.tokens[2]]);
  const inserted = tok.encode('[out]');
  const calls: number[][] = [];
  const [g] = await generator.generate([{ promptIds: p, prompt: 0, sample: 0 }], {
    ...opts,
    stopStrings: [stop],
    decode: (ids) => tok.decode(ids),
    onTurnEnd: ({ tokens }) => {
      calls.push([...tokens]);
      return calls.length === 1 ? inserted : undefined;
    },
  });
  const k = free.tokens.findIndex((t) => tok.decode([t]).includes(stop));
  assert.deepEqual(calls[0], free.tokens.slice(0, k + 1));
  assert.deepEqual(g.tokens.slice(0, k + 1 + inserted.length), [...free.tokens.slice(0, k + 1), ...inserted]);
  assert.deepEqual(
    g.sampled.slice(k + 1, k + 1 + inserted.length),
    inserted.map(() => false),
  );
  assert.ok(g.sampled.slice(0, k + 1).every(Boolean));
  // The continuation is conditioned on the inserted tokens: its log-probs match full recomputation.
  const want = await recomputedLogprobs(p, g.tokens, 1);
  g.tokens.forEach((_, i) => {
    if (g.sampled[i]) assert.ok(Math.abs(g.logprobs[i] - want[i]) <= LOGPROB_TOLERANCE, `token ${i}`);
  });
});

test('the token log-prob graph equals generation’s log-probs and a direct entropy computation', async () => {
  const { buildTokenLogProbs } = await import('../../../core/model/tokenLogProbs.ts');
  const p = [257, 84, 58];
  const [g] = await generator.generate([{ promptIds: p, prompt: 0, sample: 0 }], {
    maxNewTokens: 7,
    sampling: { temperature: 1.2 },
    seed: 5,
  });
  const lp = buildTokenLogProbs(model.config);
  const exec = await Executable.compile(lp.graph);
  const seq = [...p, ...g.tokens];
  const ids = BigInt64Array.from(seq.map(BigInt));
  const out = await exec.run({
    ...weights,
    input_ids: { data: ids, dims: [1, seq.length] },
    attention_mask: { data: ids.map(() => 1n), dims: [1, seq.length] },
    position_ids: { data: BigInt64Array.from(seq.map((_, i) => BigInt(i))), dims: [1, seq.length] },
    temperature: { data: new Float32Array([1.2]), dims: [] },
  });
  assert.deepEqual([...out.logprobs.dims], [1, seq.length - 1]);
  const graphLp = out.logprobs.data as Float32Array;
  g.logprobs.forEach((x, k) =>
    assert.ok(Math.abs(graphLp[p.length - 1 + k] - x) <= LOGPROB_TOLERANCE, `token ${k}`),
  );
  // Entropy at the first response position, directly from the logits graph.
  const full = await forward.run({
    ...weights,
    input_ids: { data: ids, dims: [1, seq.length] },
    attention_mask: { data: ids.map(() => 1n), dims: [1, seq.length] },
    position_ids: { data: BigInt64Array.from(seq.map((_, i) => BigInt(i))), dims: [1, seq.length] },
  });
  const V = model.config.vocabSize;
  const row = Array.from(
    (full.logits.data as Float32Array).subarray((p.length - 1) * V, p.length * V),
    (x) => x / 1.2,
  );
  const max = Math.max(...row);
  const z = row.reduce((s, x) => s + Math.exp(x - max), 0);
  const entropy = -row.reduce((s, x) => s + (Math.exp(x - max) / z) * (x - max - Math.log(z)), 0);
  const got = (out.entropy.data as Float32Array)[p.length - 1];
  assert.ok(Math.abs(got - entropy) < 1e-4, `entropy ${got} vs ${entropy}`);
});

test('weight swaps during concurrent generate calls: running calls finish on the old weights, sessions shared by two generators survive', async () => {
  const p = [257, 72, 101];
  const opts = { maxNewTokens: 6, sampling: { temperature: 1 }, seed: 3 };
  const a = await Generator.create(model.config, model.weights);
  const b = await Generator.create(model.config, model.weights); // same graph hash: one shared session
  const before = await a.generate([{ promptIds: p, prompt: 0, sample: 0 }], opts);
  const shifted = new Map([...model.weights].map(([k, v]) => [k, v.map((x) => x * 0.5)]));
  const running = a.generate([{ promptIds: p, prompt: 0, sample: 0 }], opts);
  a.setWeights(shifted);
  const [old, fresh, other] = await Promise.all([
    running,
    a.generate([{ promptIds: p, prompt: 0, sample: 0 }], opts),
    b.generate([{ promptIds: p, prompt: 0, sample: 0 }], opts),
  ]);
  assert.deepEqual(old, before);
  assert.deepEqual(other, before);
  assert.notDeepEqual(fresh[0].logprobs, before[0].logprobs);
});
