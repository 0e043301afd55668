/**
 * Sampling with the weights left in their safetensors files (mapped by onnxruntime) gives exactly what
 * sampling from the same weights read into arrays gives: tokens and log-probs, greedy and sampled; the
 * graph file written beside the weights for the load is gone afterwards; a rewritten file is not served
 * from the session of its old contents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { externalDataFiles, Graph } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { loadWeights, writeModelDir } from '../../../core/model/modelDir.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';
import { weightRegions } from '../../../core/model/weightFiles.ts';
import { Generator } from '../../../core/generate/generator.ts';
import type { Generation } from '../../../core/generate/generation.ts';

const config = makeQwen2Config({
  vocabSize: 96,
  hiddenSize: 32,
  intermediateSize: 48,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  tieWordEmbeddings: true,
});

const requests = [
  { promptIds: [3, 14, 15, 92, 65], prompt: 0, sample: 0 },
  { promptIds: [35, 89], prompt: 1, sample: 0 },
  { promptIds: [35, 89], prompt: 1, sample: 1 },
];

async function sample(weights: Parameters<typeof Generator.create>[1]): Promise<Generation[][]> {
  const g = await Generator.create(config, weights);
  const out = [];
  for (const temperature of [0, 1])
    out.push(await g.generate(requests, { maxNewTokens: 12, sampling: { temperature }, seed: 7 }));
  return out;
}

function regionsOf(dir: string) {
  const r = weightRegions(dir, config);
  assert.ok('regions' in r, 'reason' in r ? r.reason : '');
  return r.regions;
}

test('weights mapped from their files sample exactly as weights read into arrays', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weight-files-'));
  try {
    // Two shards, as a real checkpoint has.
    writeModelDir(dir, { config, weights: initQwen2Weights(config, 1) }, { maxShardSize: 60_000 });
    assert.ok(readdirSync(dir).includes('model.safetensors.index.json'));
    const fromFiles = await sample(regionsOf(dir));
    assert.deepEqual(fromFiles, await sample(loadWeights(dir, config)));
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.onnx')),
      [],
      'the graph file is removed after the load',
    );

    // New contents at the same paths: a new session, not the old one from the cache.
    writeModelDir(dir, { config, weights: initQwen2Weights(config, 2) }, { maxShardSize: 60_000 });
    const rewritten = await sample(regionsOf(dir));
    assert.deepEqual(rewritten, await sample(loadWeights(dir, config)));
    assert.notDeepEqual(rewritten, fromFiles);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('weightRegions names why a directory cannot be mapped; file constants must share one folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weight-files-'));
  try {
    writeModelDir(dir, { config, weights: initQwen2Weights(config, 1) });
    const wider = makeQwen2Config({ ...config, hiddenSize: 64, headDim: undefined });
    const r = weightRegions(dir, wider);
    assert.ok('reason' in r && /model\.embed_tokens\.weight is missing or misshapen/.test(r.reason));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const g = new Graph('two-folders');
  const a = g.fileConstant({ path: '/a/x.safetensors', offset: 8, length: 4 }, [1], 'float32', 'a');
  const b = g.fileConstant({ path: '/b/y.safetensors', offset: 8, length: 4 }, [1], 'float32', 'b');
  g.output(a, 'a_out');
  g.output(b, 'b_out');
  assert.throws(() => externalDataFiles(g), /file constants lie in several folders/);
});

test('weights of a megabyte and more, compiled in from arrays, sample as when mapped from files', async () => {
  // A 1 MiB embedding: large enough to travel beside the protobuf as in-memory external data.
  const wide = makeQwen2Config({ ...config, vocabSize: 4096, hiddenSize: 64, headDim: undefined });
  const dir = mkdtempSync(join(tmpdir(), 'weight-files-'));
  try {
    writeModelDir(dir, { config: wide, weights: initQwen2Weights(wide, 3) });
    const r = weightRegions(dir, wide);
    assert.ok('regions' in r);
    const run = async (weights: Parameters<typeof Generator.create>[1]) => {
      const g = await Generator.create(wide, weights);
      return g.generate(requests, { maxNewTokens: 8, sampling: { temperature: 1 }, seed: 3 });
    };
    const arrays = loadWeights(dir, wide);
    const fromArrays = await run(arrays);
    assert.deepEqual(fromArrays, await run(r.regions));
    // Different values at the same shapes: a different session (the cache key covers the weights' bytes).
    arrays.get('model.embed_tokens.weight')![0] += 1;
    assert.notDeepEqual(await run(arrays), fromArrays);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
