/** algorithm.lora: defaults as verl's, every bad field refused with its path and value. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRlAlgorithmConfig } from '../../../core/config/rl.ts';
import { LORA_TARGET_MODULES } from '../../../core/model/lora.ts';

test('algorithm.lora: absent by default; "all-linear" (the default) is the seven Qwen2 linears', () => {
  assert.equal(parseRlAlgorithmConfig({}).lora, undefined);
  assert.deepEqual(parseRlAlgorithmConfig({ lora: { rank: 8 } }).lora, {
    rank: 8,
    alpha: 16,
    dropout: 0,
    targetModules: [...LORA_TARGET_MODULES],
  });
  const some = parseRlAlgorithmConfig({
    lora: { rank: 2, alpha: 4, targetModules: ['v_proj', 'q_proj', 'q_proj'] },
  });
  assert.deepEqual(some.lora!.targetModules, ['v_proj', 'q_proj']);
});

test('algorithm.lora: rank, alpha, dropout and module names are checked, each error naming the field', () => {
  const bad: [unknown, RegExp][] = [
    [{ rank: 0 }, /algorithm\.lora\.rank must be a positive integer \(got 0\)/],
    [{ rank: 1.5 }, /algorithm\.lora\.rank must be a positive integer/],
    [{}, /algorithm\.lora\.rank/],
    [{ rank: 4, alpha: 0 }, /algorithm\.lora\.alpha must be a number > 0 \(got 0\)/],
    [{ rank: 4, dropout: 0.05 }, /algorithm\.lora\.dropout must be 0: LoRA dropout is not implemented/],
    [
      { rank: 4, targetModules: ['q_proj', 'qproj'] },
      /algorithm\.lora\.targetModules\.1 must be one of q_proj, .* \(got "qproj"\)/,
    ],
    [{ rank: 4, targetModules: 'all' }, /algorithm\.lora\.targetModules must be "all-linear" or a list/],
    [{ rank: 4, targetModules: [] }, /algorithm\.lora\.targetModules must name at least one module/],
    [{ rank: 4, bias: 'all' }, /algorithm\.lora has unknown key "bias"/],
  ];
  for (const [lora, message] of bad)
    assert.throws(() => parseRlAlgorithmConfig({ lora }), message, JSON.stringify(lora));
});

test('algorithm.lora.baseDtype: absent by default (float32); float16 needs gradientCheckpointing', () => {
  assert.equal(parseRlAlgorithmConfig({ lora: { rank: 8 } }).lora!.baseDtype, undefined);
  const half = parseRlAlgorithmConfig({
    gradientCheckpointing: true,
    lora: { rank: 8, baseDtype: 'float16' },
  });
  assert.equal(half.lora!.baseDtype, 'float16');
  assert.throws(
    () => parseRlAlgorithmConfig({ lora: { rank: 8, baseDtype: 'float16' } }),
    /algorithm\.lora\.baseDtype float16 needs gradientCheckpointing: true/,
  );
  assert.throws(
    () => parseRlAlgorithmConfig({ gradientCheckpointing: true, lora: { rank: 8, baseDtype: 'bfloat16' } }),
    /algorithm\.lora\.baseDtype must be one of "float32", "float16" \(got "bfloat16"\)/,
  );
});
