/**
 * exportModelDir: the layout transformers writes (index, shard names, config) and values that load back
 * through our own loader bit for bit — float32 unchanged, half precision exactly as torch rounds.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { exportModelDir } from '../../../core/model/exportModelDir.ts';
import { encodeFloat32As } from '../../../core/model/halfPrecision.ts';
import { loadModelDir, writeModelDir } from '../../../core/model/modelDir.ts';
import { initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { readSafetensorsHeader } from '../../../core/model/safetensors.ts';
import { buildTinyTokenizer } from '../../../core/model/tinyTokenizer.ts';

const FIXTURE = fileURLToPath(new URL('../../fixtures/qwen2/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'export-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('float32 export of the transformers-written tied fixture reproduces its shards and index byte for byte', () => {
  const source = join(FIXTURE, 'tied');
  const out = join(tmp, 'tied-f32');
  const result = exportModelDir(source, out, { dtype: 'F32', maxShardSize: '200KB' });
  assert.deepEqual(
    result.plan.files.map((f) => f.file),
    ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'],
  );
  for (const file of ['model.safetensors.index.json', ...result.plan.files.map((f) => f.file)]) {
    assert.ok(readFileSync(join(out, file)).equals(readFileSync(join(source, file))), file);
  }
  assert.ok(
    readFileSync(join(out, 'generation_config.json')).equals(
      readFileSync(join(source, 'generation_config.json')),
    ),
  );
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(config.torch_dtype, 'float32');
  assert.deepEqual(Object.keys(config), Object.keys(config).sort());
  assert.deepEqual(result.tokenizerFiles, []);
});

test('bfloat16 and float16 exports load back bit-identical to torch-style rounding, with HF layout', () => {
  const qwen = makeQwen2Config({
    vocabSize: 259,
    hiddenSize: 32,
    intermediateSize: 64,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    eosTokenId: [258],
  });
  const weights = initQwen2Weights(qwen, 3);
  const source = join(tmp, 'src');
  writeModelDir(source, { config: qwen, weights, tokenizer: buildTinyTokenizer() });
  for (const [dtype, torchName] of [
    ['BF16', 'bfloat16'],
    ['F16', 'float16'],
  ] as const) {
    const out = join(tmp, `out-${torchName}`);
    const result = exportModelDir(source, out, { dtype, maxShardSize: '20KB' });
    assert.ok(result.plan.files.length > 2, `${result.plan.files.length} shards`);
    const specs = qwen2Parameters(qwen);
    const params = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
    assert.deepEqual(index.metadata, { total_parameters: params, total_size: 2 * params });
    assert.deepEqual(Object.keys(index.weight_map), Object.keys(index.weight_map).sort());
    assert.deepEqual(new Set(Object.values(index.weight_map)), new Set(result.plan.files.map((f) => f.file)));
    for (const f of result.plan.files) {
      const header = readSafetensorsHeader(join(out, f.file));
      assert.deepEqual(header.metadata, { format: 'pt' });
      for (const info of header.tensors.values()) assert.equal(info.dtype, dtype, info.name);
    }
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.equal(config.torch_dtype, torchName);
    assert.equal(config.dtype, torchName);
    assert.deepEqual(result.tokenizerFiles, ['tokenizer.json', 'tokenizer_config.json']);
    assert.ok(readFileSync(join(out, 'tokenizer.json')).equals(readFileSync(join(source, 'tokenizer.json'))));
    const back = loadModelDir(out, { requireTokenizer: true });
    for (const spec of specs) {
      const expected = Buffer.from(encodeFloat32As(weights.get(spec.name)!, dtype));
      const got = Buffer.from(encodeFloat32As(back.weights.get(spec.name)!, dtype));
      assert.ok(got.equals(expected), `${dtype} ${spec.name}`);
    }
    assert.ok(!readdirSync(out).includes('model.safetensors'));
  }
});

test('a source that does not match its config is refused before anything is written', () => {
  const qwen = makeQwen2Config({
    vocabSize: 16,
    hiddenSize: 8,
    intermediateSize: 16,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
  });
  const source = join(tmp, 'bad-src');
  writeModelDir(source, { config: qwen, weights: initQwen2Weights(qwen, 1) });
  // Claim one more layer than the weights hold.
  const text = readFileSync(join(source, 'config.json'), 'utf8').replace(
    '"num_hidden_layers": 1',
    '"num_hidden_layers": 2',
  );
  writeFileSync(join(source, 'config.json'), text);
  const out = join(tmp, 'bad-out');
  assert.throws(
    () => exportModelDir(source, out, { dtype: 'BF16' }),
    /tensor model\.layers\.1\.\S+ is missing/,
  );
  assert.equal(existsSync(out), false);
});
