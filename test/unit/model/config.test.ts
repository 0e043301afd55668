import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  makeQwen2Config,
  parseQwen2Config,
  parseQwen2ConfigJson,
  qwen2ConfigToJson,
  qwen2ConfigToJsonText,
} from '../../../core/model/config.ts';

const FIXTURE = new URL('../../fixtures/qwen2/', import.meta.url);
const fixtureConfig = (variant: string) => readFileSync(new URL(`${variant}/config.json`, FIXTURE), 'utf8');

/** A transformers 4.x style config.json (top-level rope_theta), as Qwen2.5-0.5B ships it. */
const QWEN25_STYLE = {
  architectures: ['Qwen2ForCausalLM'],
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

test('parses the config.json transformers 5 wrote for the fixture (rope_parameters)', () => {
  const c = parseQwen2ConfigJson(fixtureConfig('untied'), 'untied/config.json');
  assert.deepEqual(c, {
    modelType: 'qwen2',
    vocabSize: 300,
    hiddenSize: 64,
    intermediateSize: 128,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    headDim: 16,
    maxPositionEmbeddings: 128,
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: false,
    initializerRange: 0.02,
    hiddenAct: 'silu',
    bosTokenId: 256,
    eosTokenId: [258],
  });
  assert.equal(parseQwen2ConfigJson(fixtureConfig('tied')).tieWordEmbeddings, true);
});

test('parses a transformers 4 style config (top-level rope_theta, eos list, head_dim derived)', () => {
  const c = parseQwen2Config({ ...QWEN25_STYLE, eos_token_id: [151645, 151643] });
  assert.equal(c.ropeTheta, 1e6);
  assert.equal(c.headDim, 64);
  assert.equal(c.numKeyValueHeads, 2);
  assert.deepEqual(c.eosTokenId, [151645, 151643]);
  assert.equal(c.bosTokenId, 151643);
});

test('num_key_value_heads defaults to num_attention_heads; explicit head_dim wins', () => {
  const { num_key_value_heads: _, ...noKv } = QWEN25_STYLE;
  assert.equal(parseQwen2Config(noKv).numKeyValueHeads, 14);
  assert.equal(parseQwen2Config({ ...QWEN25_STYLE, head_dim: 128 }).headDim, 128);
});

test('missing keys and unsupported models are errors naming the key and the file', () => {
  for (const key of [
    'vocab_size',
    'hidden_size',
    'num_hidden_layers',
    'rms_norm_eps',
    'rope_theta',
    'model_type',
  ]) {
    const broken: Record<string, unknown> = { ...QWEN25_STYLE };
    delete broken[key];
    assert.throws(() => parseQwen2Config(broken, 'm/config.json'), {
      message: `m/config.json: missing key "${key}"`,
    });
  }
  assert.throws(() => parseQwen2Config({ ...QWEN25_STYLE, model_type: 'llama' }, 'x.json'), {
    message: 'x.json: unsupported model_type "llama" (only "qwen2" is implemented)',
  });
  assert.throws(
    () => parseQwen2Config({ ...QWEN25_STYLE, num_key_value_heads: 3 }),
    /multiple of num_key_value_heads/,
  );
  assert.throws(() => parseQwen2Config({ ...QWEN25_STYLE, hidden_size: -4 }), {
    message: 'config.json: hidden_size must be a positive integer (got -4)',
  });
  assert.throws(
    () => parseQwen2Config({ ...QWEN25_STYLE, rope_scaling: { type: 'yarn', factor: 4 } }),
    /yarn/,
  );
  assert.throws(() => parseQwen2Config({ ...QWEN25_STYLE, use_sliding_window: true }), /use_sliding_window/);
  assert.throws(
    () => parseQwen2Config({ ...QWEN25_STYLE, layer_types: ['full_attention', 'sliding_attention'] }),
    /layer_types\[1\]/,
  );
  assert.throws(() => parseQwen2ConfigJson('{', 'bad.json'), /^Error: bad.json: not valid JSON/);
});

test('the writer round-trips and keeps the keys transformers 4 and 5 read', () => {
  const c = makeQwen2Config({
    vocabSize: 300,
    hiddenSize: 64,
    intermediateSize: 128,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    tieWordEmbeddings: true,
    eosTokenId: [258, 256],
  });
  assert.deepEqual(parseQwen2ConfigJson(qwen2ConfigToJsonText(c)), c);
  const json = qwen2ConfigToJson(c);
  assert.equal(json.rope_theta, 10000);
  assert.deepEqual(json.rope_parameters, { rope_theta: 10000, rope_type: 'default' });
  assert.deepEqual(json.architectures, ['Qwen2ForCausalLM']);
  assert.equal('head_dim' in json, false);
  const keys = Object.keys(JSON.parse(qwen2ConfigToJsonText(c)));
  assert.deepEqual(keys, [...keys].sort());
  // Every key transformers 5 wrote for the fixture is present in ours.
  const hfKeys = Object.keys(JSON.parse(fixtureConfig('untied'))).filter((k) => k !== 'transformers_version');
  assert.deepEqual(
    hfKeys.filter((k) => !(k in json) && k !== 'pad_token_id'),
    [],
  );
  assert.throws(
    () =>
      makeQwen2Config({
        vocabSize: 10,
        hiddenSize: 10,
        intermediateSize: 8,
        numHiddenLayers: 1,
        numAttentionHeads: 3,
      }),
    /divisible/,
  );
});
