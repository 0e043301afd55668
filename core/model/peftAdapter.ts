/**
 * A PEFT LoRA adapter directory, as `PeftModel.save_pretrained` writes one and `PeftModel.from_pretrained`
 * loads it: `adapter_config.json` (LoraConfig's fields) and `adapter_model.safetensors`, whose tensors are
 * named from the PeftModel's root: `base_model.model.` + the wrapped model's parameter name, with PEFT's
 * adapter name ("default") removed — `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`
 * [r, in] and `….lora_B.weight` [out, r] (peft/utils/save_and_load.py, get_peft_model_state_dict).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Qwen2Config } from './config.ts';
import { LORA_TARGET_MODULES, loraParameters, type LoraSpec, type LoraTargetModule } from './lora.ts';
import { readSafetensors, writeSafetensors, type TensorToWrite } from './safetensors.ts';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** What PeftModel prefixes to the wrapped model's parameter names in its state dict. */
export const PEFT_PREFIX = 'base_model.model.';

/** LoraConfig as `save_pretrained` writes it, for a CAUSAL_LM Qwen2 with plain LoRA (no DoRA, no rsLoRA). */
export function peftAdapterConfig(
  spec: LoraSpec,
  baseModelNameOrPath: string | null,
): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModelNameOrPath,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: spec.alpha,
    lora_dropout: 0,
    modules_to_save: null,
    peft_type: 'LORA',
    r: spec.rank,
    rank_pattern: {},
    revision: null,
    target_modules: LORA_TARGET_MODULES.filter((m) => spec.targetModules.includes(m)),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
  };
}

export interface PeftAdapter {
  spec: LoraSpec;
  /** By our parameter names (without PEFT_PREFIX), as `initLoraWeights` gives them. */
  adapters: Map<string, Float32Array>;
  baseModelNameOrPath: string | null;
}

/** Writes `dir/adapter_config.json` and `dir/adapter_model.safetensors` (float32, tensors in name order). */
export function writePeftAdapter(dir: string, config: Qwen2Config, adapter: PeftAdapter): void {
  const tensors = new Map<string, TensorToWrite>();
  for (const p of loraParameters(config, adapter.spec)) {
    const data = adapter.adapters.get(p.name);
    if (!data) throw new Error(`PEFT adapter: tensor ${p.name} is missing`);
    tensors.set(PEFT_PREFIX + p.name, { shape: p.shape, data });
  }
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), tensors);
  const json = peftAdapterConfig(adapter.spec, adapter.baseModelNameOrPath);
  writeFileSync(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(json, null, 2)}\n`);
}

/**
 * Reads an adapter directory written by `writePeftAdapter` or by PEFT for this model's shapes: plain
 * LoRA only (what we cannot apply — DoRA, rsLoRA, per-layer ranks, biases, saved modules — is refused by
 * name rather than silently dropped).
 */
export function readPeftAdapter(dir: string, config: Qwen2Config): PeftAdapter {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  if (!existsSync(configPath))
    throw new Error(`${dir}: not a PEFT adapter directory (no ${ADAPTER_CONFIG_FILE})`);
  const c = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  const refuse = (why: string) => {
    throw new Error(`${configPath}: ${why}`);
  };
  if (c.peft_type !== 'LORA') refuse(`peft_type ${JSON.stringify(c.peft_type)} is not "LORA"`);
  if (c.use_dora) refuse('DoRA adapters (use_dora) are not supported');
  if (c.use_rslora) refuse('rsLoRA scaling (use_rslora) is not supported');
  if ((c.bias ?? 'none') !== 'none') refuse(`bias ${JSON.stringify(c.bias)} is not supported (only "none")`);
  if (c.modules_to_save) refuse('modules_to_save is not supported');
  for (const key of ['rank_pattern', 'alpha_pattern'] as const)
    if (c[key] && Object.keys(c[key] as object).length > 0) refuse(`${key} is not supported`);
  const rank = c.r as number;
  const alpha = c.lora_alpha as number;
  if (!Number.isInteger(rank) || rank < 1)
    refuse(`r must be a positive integer (got ${JSON.stringify(c.r)})`);
  if (typeof alpha !== 'number' || !(alpha > 0))
    refuse(`lora_alpha must be > 0 (got ${JSON.stringify(alpha)})`);
  const raw = c.target_modules;
  const names = raw === 'all-linear' ? [...LORA_TARGET_MODULES] : typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(names)) refuse(`target_modules must be a list of names (got ${JSON.stringify(raw)})`);
  for (const name of names as unknown[])
    if (!(LORA_TARGET_MODULES as readonly unknown[]).includes(name))
      refuse(
        `target module ${JSON.stringify(name)} is not a Qwen2 linear (${LORA_TARGET_MODULES.join(', ')})`,
      );
  const spec: LoraSpec = { rank, alpha, targetModules: names as LoraTargetModule[] };
  const expected = new Map(loraParameters(config, spec).map((p) => [PEFT_PREFIX + p.name, p.shape]));
  const file = join(dir, ADAPTER_WEIGHTS_FILE);
  const read = readSafetensors(file, { expectedShapes: expected });
  const adapters = new Map<string, Float32Array>();
  for (const name of expected.keys()) {
    const data = read.get(name);
    if (!data) throw new Error(`${file}: tensor ${name} is missing`);
    adapters.set(name.slice(PEFT_PREFIX.length), data);
  }
  const extra = [...read.keys()].find((n) => !expected.has(n));
  if (extra !== undefined) throw new Error(`${file}: unexpected tensor ${extra}`);
  return { spec, adapters, baseModelNameOrPath: (c.base_model_name_or_path as string | null) ?? null };
}
