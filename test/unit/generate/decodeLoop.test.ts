/**
 * Several tokens per run (decodeLoop.ts) against one token per run: the same generations — tokens,
 * log-probs, finish reasons — for every chunk size, with stop tokens, the length limit, left padding and
 * tool turns that end mid-chunk; and against full recomputation for the log-probs after a turn.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadModelDir } from '../../../core/model/modelDir.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import { Generator } from '../../../core/generate/generator.ts';
import { KvBuffers, appendMaskColumns } from '../../../core/generate/kvBuffers.ts';
import type { GenerateOptions, GenerationRequest } from '../../../core/generate/generation.ts';
import type { SamplingParams } from '../../../core/generate/sampling.ts';
import { buildQwen2Logits, cacheNames } from '../../../core/model/qwen2.ts';
import { Executable } from '../../../core/graph/index.ts';
import type { HostTensor } from '../../../core/graph/index.ts';

const DIR = fileURLToPath(new URL('../../fixtures/qwen2/untied/', import.meta.url));
const model = loadModelDir(DIR);
const tok = QwenTokenizer.fromDir(DIR);

const requests: GenerationRequest[] = Array.from({ length: 6 }, (_, i) => ({
  promptIds: [256, ...Array.from({ length: 1 + (i % 4) }, (_, t) => 10 + 7 * i + t)],
  prompt: i,
  sample: i % 2,
}));

async function inGraph(decodeChunk: number): Promise<Generator> {
  return Generator.create(model.config, model.weights, { sampleInGraph: true, decodeChunk });
}

test('every chunk size gives the one-token-per-run generations, bit for bit', async () => {
  const reference = await inGraph(1);
  const settings: SamplingParams[] = [{ temperature: 1 }, { temperature: 0.7 }, { temperature: 0 }];
  for (const chunk of [2, 5, 16]) {
    const chunked = await inGraph(chunk);
    for (const sampling of settings) {
      // maxNewTokens 13 is not a multiple of the chunk sizes, so the last run is a short one.
      const opts = { maxNewTokens: 13, sampling, seed: 3, step: 2, stopTokenIds: [258] };
      const a = await reference.generate(requests, opts);
      const b = await chunked.generate(requests, opts);
      assert.deepEqual(b, a, `chunk ${chunk}, ${JSON.stringify(sampling)}`);
    }
  }
});

test('a stop token inside a chunk ends its row there; the other rows go on', async () => {
  const free = await (
    await inGraph(1)
  ).generate(requests, { maxNewTokens: 12, sampling: { temperature: 1 }, seed: 5 });
  // Stop at the 4th token of request 0: mid-chunk for chunk 8.
  const stopId = free[0].tokens[3];
  const opts = { maxNewTokens: 12, sampling: { temperature: 1 }, seed: 5, stopTokenIds: [stopId] };
  const a = await (await inGraph(1)).generate(requests, opts);
  const b = await (await inGraph(8)).generate(requests, opts);
  assert.deepEqual(b, a);
  assert.equal(b[0].finishReason, 'stop');
  assert.ok(b[0].tokens.length <= 4);
  assert.ok(
    b.some((g) => g.finishReason === 'length'),
    'some row runs to the limit',
  );
});

/** Request i's turn ends at the text of one of its own early tokens; the hook inserts "[out]" once. */
async function withTurns(decodeChunk: number, stops: string[], calls: number[][]) {
  const inserted = tok.encode('[out]');
  const opts: GenerateOptions = {
    maxNewTokens: 20,
    sampling: { temperature: 1 },
    seed: 11,
    stopStrings: stops,
    decode: (ids) => tok.decode(ids),
    onTurnEnd: ({ request, tokens }) => {
      calls.push([request.prompt, tokens.length]);
      return calls.filter(([p]) => p === request.prompt).length === 1 ? inserted : undefined;
    },
  };
  return (await inGraph(decodeChunk)).generate(requests, opts);
}

test('a tool turn ending mid-chunk: the drawn rest is dropped, the inserted tokens follow, as one token per run', async () => {
  const free = await (
    await inGraph(1)
  ).generate(requests, { maxNewTokens: 20, sampling: { temperature: 1 }, seed: 11 });
  const stops = [tok.decode([free[0].tokens[2]]), tok.decode([free[3].tokens[5]])];
  const refCalls: number[][] = [];
  const a = await withTurns(1, stops, refCalls);
  assert.ok(refCalls.length >= 2, 'the hook fires');
  for (const chunk of [4, 7]) {
    const calls: number[][] = [];
    const b = await withTurns(chunk, stops, calls);
    // Rows are taken in order within a chunk, so the calls interleave differently: compare them as a set.
    const sorted = (c: number[][]) => [...c].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    assert.deepEqual(sorted(calls), sorted(refCalls), `chunk ${chunk}: the same turns`);
    for (const [i, g] of a.entries()) {
      const what = `chunk ${chunk} request ${i}`;
      assert.deepEqual(b[i].tokens, g.tokens, what);
      assert.deepEqual(b[i].sampled, g.sampled, what);
      assert.equal(b[i].finishReason, g.finishReason, what);
      // After a turn the row attends past masked cache columns: equal to float32 rounding.
      g.logprobs.forEach((lp, t) => assert.ok(Math.abs(b[i].logprobs[t] - lp) < 1e-5, `${what} token ${t}`));
    }
  }
  // The inserted tokens are in the model's context: log-probs equal full recomputation.
  const fwd = buildQwen2Logits(model.config);
  const forward = await Executable.compile(fwd.graph);
  const b = await withTurns(7, stops, []);
  const r = requests[0];
  const seq = [...r.promptIds, ...b[0].tokens];
  const ids = BigInt64Array.from(seq.map(BigInt));
  const feeds: Record<string, HostTensor> = {
    input_ids: { data: ids, dims: [1, seq.length] },
    attention_mask: { data: ids.map(() => 1n), dims: [1, seq.length] },
    position_ids: { data: BigInt64Array.from(seq.map((_, i) => BigInt(i))), dims: [1, seq.length] },
  };
  for (const [name, v] of fwd.params)
    feeds[name] = { data: model.weights.get(name)!, dims: v.shape as number[] };
  const logits = (await forward.run(feeds)).logits.data as Float32Array;
  const V = model.config.vocabSize;
  b[0].tokens.forEach((t, i) => {
    if (!b[0].sampled[i]) return;
    const row = logits.subarray((r.promptIds.length - 1 + i) * V, (r.promptIds.length + i) * V);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    assert.ok(Math.abs(b[0].logprobs[i] - (row[t] - lse)) < 1e-5, `token ${i} vs recomputation`);
  });
});

test('decodeChunk must be a positive integer', async () => {
  for (const bad of [0, -1, 2.5])
    await assert.rejects(inGraph(bad), /decodeChunk must be a positive integer/);
});

test('the KV buffers grow keeping the filled positions; mask columns keep each row’s prefix', () => {
  const c = { ...model.config, numHiddenLayers: 1, numKeyValueHeads: 1, headDim: 2 };
  const kv = new KvBuffers(c, 2, 2);
  const fresh = (v: number): HostTensor => ({
    data: new Float32Array([v, v, v + 1, v + 1]),
    dims: [2, 1, 1, 2],
  });
  const step = (v: number) => ({
    [cacheNames.presentKey(0)]: fresh(v),
    [cacheNames.presentValue(0)]: fresh(-v),
  });
  kv.append(step(1), 1);
  kv.append(step(3), 1);
  kv.reserve(1);
  kv.append(step(5), 1);
  const k = kv.feeds()[cacheNames.pastKey(0)];
  assert.ok(k.dims[2] >= 3);
  const cap = k.dims[2];
  const at = (b: number, t: number) => (k.data as Float32Array)[(b * cap + t) * 2];
  assert.deepEqual([at(0, 0), at(0, 1), at(0, 2), at(1, 0), at(1, 1), at(1, 2)], [1, 3, 5, 2, 4, 6]);

  const mask = { data: new BigInt64Array([1n, 1n, 0n, 1n]), dims: [2, 2] };
  const grown = appendMaskColumns(mask, 3, [3, 1]);
  assert.deepEqual(grown.dims, [2, 5]);
  assert.deepEqual([...grown.data].map(Number), [1, 1, 1, 1, 1, 0, 1, 1, 0, 0]);
});
