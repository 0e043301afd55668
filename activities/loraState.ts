/**
 * A LoRA run's checkpoint: the adapters as a PEFT adapter directory under `adapter/`
 * (`adapter_config.json`, `adapter_model.safetensors`: loadable by `PeftModel.from_pretrained` as is) and
 * `adapter/base_model.json`, the reference to the frozen base model (the run's model source: a model
 * dir, an init recipe or another run's checkpoint), which is never copied. The optimizer group holds the
 * adapters' AdamW moments only. Readers merge W + s·B·A on the base they load from the reference.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor, OptimizerState } from '../core/graph/index.ts';
import type { Qwen2Config } from '../core/model/config.ts';
import { loraParameters, type LoraSpec } from '../core/model/lora.ts';
import { readPeftAdapter, writePeftAdapter } from '../core/model/peftAdapter.ts';
import type { ManifestObject } from '../core/store/index.ts';
import type { ModelSource } from './runtime.ts';

export const ADAPTER_GROUP = 'adapter';
export const BASE_REF_FILE = 'base_model.json';

/** What a LoRA trainer state is written with: the adapters' spec and the base they adapt. */
export interface LoraStateFiles {
  spec: LoraSpec;
  base: ModelSource;
}

/** True when a checkpoint holds adapters (a LoRA run) rather than whole weights. */
export function isLoraCheckpoint(objects: readonly ManifestObject[]): boolean {
  return objects.some((o) => o.name.startsWith(`${ADAPTER_GROUP}/`));
}

/** The trainable tensors of a LoRA state (adapters by name, their moments zero), step 0. */
export function loraInitialState(
  config: Qwen2Config,
  spec: LoraSpec,
  adapters: Map<string, Float32Array>,
): OptimizerState {
  const params: Record<string, HostTensor> = {};
  const m: Record<string, HostTensor> = {};
  const v: Record<string, HostTensor> = {};
  for (const p of loraParameters(config, spec)) {
    const data = adapters.get(p.name);
    if (!data) throw new Error(`adapters lack tensor ${p.name}`);
    params[p.name] = { data, dims: [...p.shape] };
    m[p.name] = { data: new Float32Array(data.length), dims: [...p.shape] };
    v[p.name] = { data: new Float32Array(data.length), dims: [...p.shape] };
  }
  return { step: 0, params, m, v };
}

/** Writes `<dir>/adapter/`: the PEFT adapter directory of the state's adapters and the base reference. */
export function writeAdapterGroup(
  dir: string,
  config: Qwen2Config,
  state: OptimizerState,
  lora: LoraStateFiles,
): void {
  const group = join(dir, ADAPTER_GROUP);
  const adapters = new Map(Object.entries(state.params).map(([k, t]) => [k, t.data as Float32Array]));
  writePeftAdapter(group, config, {
    spec: lora.spec,
    adapters,
    baseModelNameOrPath: lora.base.model.dir ?? null,
  });
  mkdirSync(group, { recursive: true });
  writeFileSync(join(group, BASE_REF_FILE), `${JSON.stringify(baseReference(lora.base))}\n`);
}

/** The model source and store URL only: what locates the base (no credentials live in either). */
function baseReference(source: ModelSource): ModelSource {
  return { model: source.model, store: { url: source.store.url } };
}

/** The base reference of a restored `adapter/` directory. */
export function readBaseReference(adapterDir: string): ModelSource {
  return JSON.parse(readFileSync(join(adapterDir, BASE_REF_FILE), 'utf8')) as ModelSource;
}

/** Reads a restored `adapter/` directory; a spec other than `expected` (when given) is an error naming both. */
export function readAdapterGroup(
  adapterDir: string,
  config: Qwen2Config,
  expected?: LoraSpec,
): { spec: LoraSpec; adapters: Map<string, Float32Array> } {
  const { spec, adapters } = readPeftAdapter(adapterDir, config);
  if (expected) {
    const key = (s: LoraSpec) => JSON.stringify([s.rank, s.alpha, [...s.targetModules].sort()]);
    if (key(spec) !== key(expected)) {
      throw new Error(
        `${adapterDir}: adapters r=${spec.rank} alpha=${spec.alpha} [${spec.targetModules}] do not match the config's r=${expected.rank} alpha=${expected.alpha} [${expected.targetModules}]`,
      );
    }
  }
  return { spec, adapters };
}
