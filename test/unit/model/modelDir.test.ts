import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { loadModelDir, writeModelDir } from '../../../core/model/modelDir.ts';
import { LM_HEAD, elementCount, initQwen2Weights, qwen2Parameters } from '../../../core/model/parameters.ts';
import { readSafetensors, writeSafetensors } from '../../../core/model/safetensors.ts';
import { buildTinyTokenizer } from '../../../core/model/tinyTokenizer.ts';

const FIXTURE = fileURLToPath(new URL('../../fixtures/qwen2/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'modeldir-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of a fixture directory that a test may break. */
function copyOf(variant: string, name: string): string {
  const dir = join(tmp, name);
  cpSync(join(FIXTURE, variant), dir, { recursive: true });
  return dir;
}

test('loads the HF-written untied fixture (single file, with tokenizer): every parameter with its shape', () => {
  const model = loadModelDir(join(FIXTURE, 'untied'), { requireTokenizer: true });
  const specs = qwen2Parameters(model.config);
  assert.equal(model.weights.size, specs.length);
  for (const spec of specs)
    assert.equal(model.weights.get(spec.name)!.length, elementCount(spec.shape), spec.name);
  assert.ok(model.weights.has(LM_HEAD));
  assert.equal(model.generationConfig!.eos_token_id, 258);
  assert.equal((model.tokenizer!.tokenizerConfig as { eos_token: string }).eos_token, '<|im_end|>');
  // Values are the file's bytes: compare one tensor against a plain read of the file.
  const raw = readSafetensors(join(FIXTURE, 'untied', 'model.safetensors'));
  assert.deepEqual(
    model.weights.get('model.layers.1.self_attn.v_proj.bias'),
    raw.get('model.layers.1.self_attn.v_proj.bias'),
  );
});

test('loads the HF-written tied fixture from shards (model.safetensors.index.json), without tokenizer', () => {
  const model = loadModelDir(join(FIXTURE, 'tied'));
  assert.equal(model.config.tieWordEmbeddings, true);
  assert.equal(model.weights.has(LM_HEAD), false);
  assert.equal(model.weights.size, qwen2Parameters(model.config).length);
  assert.equal(model.tokenizer, undefined);
  assert.throws(() => loadModelDir(join(FIXTURE, 'tied'), { requireTokenizer: true }), {
    message: `${join(FIXTURE, 'tied', 'tokenizer.json')}: missing (the tokenizer needs tokenizer.json)`,
  });
});

test('write then load gives back the same config, weights and tokenizer files', () => {
  const config = makeQwen2Config({
    vocabSize: 261,
    hiddenSize: 32,
    intermediateSize: 64,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    tieWordEmbeddings: true,
    bosTokenId: 256,
    eosTokenId: [258],
  });
  const weights = initQwen2Weights(config, 3);
  const tokenizer = buildTinyTokenizer();
  const dir = join(tmp, 'written');
  writeModelDir(dir, { config, weights, tokenizer });
  const back = loadModelDir(dir, { requireTokenizer: true });
  assert.deepEqual(back.config, config);
  assert.deepEqual(back.weights, weights);
  assert.deepEqual(back.tokenizer, tokenizer);
  assert.deepEqual(back.generationConfig, { bos_token_id: 256, eos_token_id: 258 });

  // Re-writing a loaded HF directory keeps keys we do not model and overwrites the dtype.
  const hf = loadModelDir(join(FIXTURE, 'tied'));
  const rewritten = join(tmp, 'rewritten');
  writeModelDir(rewritten, hf);
  const json = JSON.parse(readFileSync(join(rewritten, 'config.json'), 'utf8'));
  assert.equal(json.transformers_version, '5.24.0');
  assert.equal(json.dtype, 'float32');
  assert.deepEqual(loadModelDir(rewritten).weights, hf.weights);

  const { [LM_HEAD]: _, ...missing } = Object.fromEntries(
    initQwen2Weights({ ...config, tieWordEmbeddings: false }, 0),
  );
  assert.throws(
    () =>
      writeModelDir(join(tmp, 'x'), {
        config: { ...config, tieWordEmbeddings: false },
        weights: new Map(Object.entries(missing)),
      }),
    /tensor lm_head\.weight is missing/,
  );
});

test('bad directories fail naming the file and the tensor', () => {
  let dir = copyOf('untied', 'no-config');
  rmSync(join(dir, 'config.json'));
  assert.throws(() => loadModelDir(dir), {
    message: `${join(dir, 'config.json')}: missing (config.json is required)`,
  });

  dir = copyOf('untied', 'no-weights');
  rmSync(join(dir, 'model.safetensors'));
  assert.throws(
    () => loadModelDir(dir),
    /model\.safetensors: missing \(no model\.safetensors and no model\.safetensors\.index\.json\)/,
  );

  dir = copyOf('untied', 'no-tokenizer-config');
  rmSync(join(dir, 'tokenizer_config.json'));
  assert.throws(() => loadModelDir(dir), /tokenizer_config\.json: missing/);

  dir = copyOf('untied', 'truncated');
  const file = join(dir, 'model.safetensors');
  truncateSync(file, readFileSync(file).length - 100);
  assert.throws(
    () => loadModelDir(dir),
    /^Error: model\.safetensors: tensor [\w.]+ ends at byte \d+ of the data but the file holds only \d+ \(truncated\)$/,
  );

  const shardDir = copyOf('tied', 'missing-shard-tied');
  rmSync(join(shardDir, 'model-00002-of-00002.safetensors'));
  assert.throws(
    () => loadModelDir(shardDir),
    /model-00002-of-00002\.safetensors: missing \(listed in model\.safetensors\.index\.json\)/,
  );

  // Wrong shape and missing / unexpected tensors, in a file written with the right header format.
  dir = copyOf('untied', 'edited-weights');
  const weights = readSafetensors(join(FIXTURE, 'untied', 'model.safetensors'));
  const rewrite = (mutate: (m: Map<string, { shape: number[]; data: Float32Array }>) => void) => {
    const model = loadModelDir(join(FIXTURE, 'untied'));
    const specs = new Map(qwen2Parameters(model.config).map((s) => [s.name, s.shape]));
    const tensors = new Map([...weights].map(([n, d]) => [n, { shape: specs.get(n)!, data: d }]));
    mutate(tensors);
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
  };
  rewrite((t) =>
    t.set('model.layers.1.mlp.up_proj.weight', { shape: [64, 128], data: new Float32Array(64 * 128) }),
  );
  assert.throws(() => loadModelDir(dir), {
    message:
      'model.safetensors: tensor model.layers.1.mlp.up_proj.weight has shape [64,128], expected [128,64]',
  });
  rewrite((t) => t.delete('model.layers.0.self_attn.q_proj.bias'));
  assert.throws(() => loadModelDir(dir), {
    message: `${join(dir, 'model.safetensors')}: tensor model.layers.0.self_attn.q_proj.bias is missing`,
  });
  rewrite((t) => t.set('model.layers.2.mlp.up_proj.weight', { shape: [1], data: new Float32Array(1) }));
  assert.throws(
    () => loadModelDir(dir),
    /model\.safetensors: unexpected tensor model\.layers\.2\.mlp\.up_proj\.weight/,
  );

  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama' }));
  assert.throws(() => loadModelDir(dir), /config\.json: unsupported model_type "llama"/);
});

test('tied checkpoints may carry lm_head.weight and old rotary inv_freq buffers: both are skipped', () => {
  const src = loadModelDir(join(FIXTURE, 'tied'));
  const dir = join(tmp, 'tied-extra');
  writeModelDir(dir, src);
  const tensors = new Map(
    qwen2Parameters(src.config).map((s) => [s.name, { shape: s.shape, data: src.weights.get(s.name)! }]),
  );
  tensors.set(LM_HEAD, { shape: [300, 64], data: src.weights.get('model.embed_tokens.weight')! });
  tensors.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [8], data: new Float32Array(8) });
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  const back = loadModelDir(dir);
  assert.equal(back.weights.has(LM_HEAD), false);
  assert.deepEqual(back.weights, src.weights);
});

test('a shard index that disagrees with its shards is an error naming the shard and tensor', () => {
  const dir = copyOf('tied', 'bad-index');
  const indexPath = join(dir, 'model.safetensors.index.json');
  const index = JSON.parse(readFileSync(indexPath, 'utf8'));
  const name = 'model.layers.0.mlp.down_proj.weight';
  const actual = index.weight_map[name];
  const other = actual.includes('00001')
    ? 'model-00002-of-00002.safetensors'
    : 'model-00001-of-00002.safetensors';
  index.weight_map[name] = other;
  writeFileSync(indexPath, JSON.stringify(index));
  assert.throws(() => loadModelDir(dir), {
    message: `${other}: tensor ${name} is missing (model.safetensors.index.json places it in this file)`,
  });
  index.weight_map[name] = '../escape.safetensors';
  writeFileSync(indexPath, JSON.stringify(index));
  assert.throws(
    () => loadModelDir(dir),
    /weight_map entry for model\.layers\.0\.mlp\.down_proj\.weight is not a file name/,
  );
});
