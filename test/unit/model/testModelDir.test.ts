/**
 * Real-shape test model directories: Qwen2.5's config values, seeded weights streamed to shards, and the
 * real Qwen tokenizer — checked at a tiny body on Qwen's vocabulary (the real shapes run in benchmarks).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadModelDir } from '../../../core/model/modelDir.ts';
import { initQwen2Weights, qwen2ParameterCount } from '../../../core/model/parameters.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import {
  QWEN_IM_END,
  qwenTokenizerDir,
  shapeConfig,
  writeTestModelDir,
} from '../../../core/model/testModelDir.ts';
import { capture } from '../cli/capture.ts';

const tmp = mkdtempSync(join(tmpdir(), 'test-model-dir-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the Qwen2.5 shapes have the published parameter counts (494M and 1.54B)', () => {
  assert.equal(qwen2ParameterCount(shapeConfig('qwen2.5-0.5b')), 494_032_768);
  assert.equal(qwen2ParameterCount(shapeConfig('qwen2.5-1.5b')), 1_543_714_304);
  const c = shapeConfig('qwen2.5-0.5b');
  assert.deepEqual(
    [
      c.vocabSize,
      c.hiddenSize,
      c.numHiddenLayers,
      c.numAttentionHeads,
      c.numKeyValueHeads,
      c.intermediateSize,
    ],
    [151936, 896, 24, 14, 2, 4864],
  );
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.ropeTheta, 1e6);
  assert.equal(c.maxPositionEmbeddings, 32768);
});

test('a tiny body on Qwen vocabulary loads with the real tokenizer, weights equal to the seeded init', () => {
  const config = shapeConfig('qwen2.5-tiny');
  const dir = join(tmp, 'tiny');
  const plan = writeTestModelDir(dir, config, { seed: 5, tokenizer: 'qwen', maxShardSize: '2MB' });
  assert.ok(plan.files.length > 1, `${plan.files.length} shards`);
  const model = loadModelDir(dir, { requireTokenizer: true });
  const expected = initQwen2Weights(config, 5);
  for (const [name, data] of expected) assert.deepEqual(model.weights.get(name), data, name);
  assert.ok(
    readFileSync(join(dir, 'tokenizer.json')).equals(
      readFileSync(join(qwenTokenizerDir(), 'tokenizer.json')),
    ),
  );
  const tokenizer = new QwenTokenizer(model.tokenizer!);
  const ids = tokenizer.encodeChat([{ role: 'user', content: 'What is 2+3?' }], {
    addGenerationPrompt: true,
  });
  assert.equal(ids[0], 151644); // <|im_start|>
  assert.ok(ids.every((id) => id < config.vocabSize));
  assert.equal(tokenizer.decode(tokenizer.encode('Hello, 世界')), 'Hello, 世界');
  assert.deepEqual(model.generationConfig!.eos_token_id, [QWEN_IM_END, 151643]);
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).rope_theta, 1e6);
});

test('reasonloop init-model writes the directory whole, and refuses a bad shape or a non-empty --out', async () => {
  const out = join(tmp, 'cli');
  let r = await capture(['init-model', '--shape', 'qwen2.5-tiny', '--out', out, '--dtype', 'bfloat16']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).parameters, qwen2ParameterCount(shapeConfig('qwen2.5-tiny')));
  assert.equal(loadModelDir(out, { requireTokenizer: true }).config.vocabSize, 151936);
  r = await capture(['init-model', '--shape', 'qwen2.5-tiny', '--out', out]);
  assert.equal(r.code, 1);
  assert.match(r.err, /exists and is not empty/);
  r = await capture(['init-model', '--shape', 'qwen9', '--out', join(tmp, 'x')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--shape must be one of qwen2\.5-0\.5b, qwen2\.5-1\.5b, qwen2\.5-tiny/);
  assert.equal(existsSync(join(tmp, 'x')), false);
});
