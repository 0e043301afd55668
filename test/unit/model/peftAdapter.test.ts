/** The PEFT adapter directory: PEFT's tensor names and shapes, LoraConfig's fields, a bit-exact round trip. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initLoraWeights, type LoraSpec } from '../../../core/model/lora.ts';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  readPeftAdapter,
  writePeftAdapter,
} from '../../../core/model/peftAdapter.ts';
import { readSafetensorsHeader } from '../../../core/model/safetensors.ts';

const config = makeQwen2Config({
  vocabSize: 11,
  hiddenSize: 8,
  intermediateSize: 12,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
});
const spec: LoraSpec = { rank: 2, alpha: 4, targetModules: ['v_proj', 'q_proj', 'down_proj'] };

function withDir(use: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'peft-adapter-'));
  try {
    use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('writePeftAdapter: PEFT tensor names and shapes, LoraConfig fields; read back bit for bit', () =>
  withDir((dir) => {
    const adapters = initLoraWeights(config, spec, 3);
    for (const [name, t] of adapters) if (name.includes('lora_B')) t.fill(0.25);
    writePeftAdapter(dir, config, { spec, adapters, baseModelNameOrPath: '/models/qwen' });
    const header = readSafetensorsHeader(join(dir, ADAPTER_WEIGHTS_FILE));
    assert.equal(header.tensors.size, 2 * 2 * 3);
    const q = header.tensors.get('base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight')!;
    assert.deepEqual([...q.shape], [2, 8]);
    assert.equal(q.dtype, 'F32');
    const down = header.tensors.get('base_model.model.model.layers.0.mlp.down_proj.lora_B.weight')!;
    assert.deepEqual([...down.shape], [8, 2]);
    assert.equal(header.metadata.format, 'pt');
    const json = JSON.parse(readFileSync(join(dir, ADAPTER_CONFIG_FILE), 'utf8'));
    assert.equal(json.peft_type, 'LORA');
    assert.equal(json.task_type, 'CAUSAL_LM');
    assert.equal(json.r, 2);
    assert.equal(json.lora_alpha, 4);
    assert.equal(json.lora_dropout, 0);
    assert.equal(json.bias, 'none');
    assert.equal(json.base_model_name_or_path, '/models/qwen');
    assert.deepEqual(json.target_modules, ['q_proj', 'v_proj', 'down_proj']);
    const back = readPeftAdapter(dir, config);
    assert.deepEqual(back.spec, { rank: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'] });
    assert.deepEqual([...back.adapters.keys()].sort(), [...adapters.keys()].sort());
    for (const [name, t] of adapters) assert.deepEqual(back.adapters.get(name), t, name);
  }));

test('readPeftAdapter refuses what it cannot apply, by name', () =>
  withDir((dir) => {
    writePeftAdapter(dir, config, {
      spec,
      adapters: initLoraWeights(config, spec, 1),
      baseModelNameOrPath: null,
    });
    const path = join(dir, ADAPTER_CONFIG_FILE);
    const original = JSON.parse(readFileSync(path, 'utf8'));
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ use_dora: true }, /DoRA/],
      [{ bias: 'all' }, /bias "all"/],
      [{ target_modules: ['q_proj', 'c_attn'] }, /target module "c_attn"/],
      [{ r: 3 }, /adapter_model\.safetensors.*shape|shape.*q_proj/],
    ];
    for (const [patch, message] of cases) {
      writeFileSync(path, JSON.stringify({ ...original, ...patch }));
      assert.throws(() => readPeftAdapter(dir, config), message, JSON.stringify(patch));
    }
  }));
