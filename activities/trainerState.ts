/**
 * The trainer's state as checkpoint files: the policy as an HF model directory (`weights/`, loadable by
 * transformers) and AdamW's moments with the step count as one safetensors file (`optimizer/`). Both are
 * float32 written byte for byte, so a state read back is bit-identical to the one written.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostTensor, OptimizerState } from '../core/graph/index.ts';
import type { Qwen2Config } from '../core/model/config.ts';
import { loadModelDir, writeModelDir, type QwenModelDir } from '../core/model/modelDir.ts';
import { qwen2Parameters } from '../core/model/parameters.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../core/model/safetensors.ts';
import { objectsFromDirectory, type CheckpointObjectSource } from '../core/store/index.ts';
import { OPTIMIZER_GROUP, WEIGHTS_GROUP } from '../core/store/index.ts';

export const OPTIMIZER_FILE = 'state.safetensors';
/** Safetensors metadata key holding AdamW's step count (t). */
const STEP_METADATA = 'reasonloop.optimizer_step';

export function stateFromWeights(config: Qwen2Config, weights: Map<string, Float32Array>): OptimizerState {
  const params: Record<string, HostTensor> = {};
  const m: Record<string, HostTensor> = {};
  const v: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(config)) {
    const data = weights.get(p.name);
    if (!data) throw new Error(`weights lack tensor ${p.name}`);
    params[p.name] = { data, dims: [...p.shape] };
    m[p.name] = { data: new Float32Array(data.length), dims: [...p.shape] };
    v[p.name] = { data: new Float32Array(data.length), dims: [...p.shape] };
  }
  return { step: 0, params, m, v };
}

export function weightsOf(state: OptimizerState): Map<string, Float32Array> {
  return new Map(Object.entries(state.params).map(([k, t]) => [k, t.data as Float32Array]));
}

function writeOptimizerFile(path: string, config: Qwen2Config, state: OptimizerState): void {
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const p of qwen2Parameters(config)) {
    tensors.set(`m.${p.name}`, { shape: p.shape, data: state.m[p.name].data as Float32Array });
    tensors.set(`v.${p.name}`, { shape: p.shape, data: state.v[p.name].data as Float32Array });
  }
  writeSafetensors(path, tensors, { [STEP_METADATA]: String(state.step) });
}

/**
 * Writes the state's files into a temp dir and hands their checkpoint sources to `use`; `base` supplies
 * the tokenizer and generation config of the model directory.
 */
export async function withStateFiles<T>(
  base: Omit<QwenModelDir, 'weights'>,
  state: OptimizerState,
  use: (objects: CheckpointObjectSource[]) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'reasonloop-state-'));
  try {
    writeModelDir(join(dir, WEIGHTS_GROUP), { ...base, weights: weightsOf(state) });
    await mkdir(join(dir, OPTIMIZER_GROUP), { recursive: true });
    writeOptimizerFile(join(dir, OPTIMIZER_GROUP, OPTIMIZER_FILE), base.config, state);
    const objects = [
      ...(await objectsFromDirectory(join(dir, WEIGHTS_GROUP), WEIGHTS_GROUP)),
      ...(await objectsFromDirectory(join(dir, OPTIMIZER_GROUP), OPTIMIZER_GROUP)),
    ];
    return await use(objects);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Reads a state back from a directory holding `weights/` and `optimizer/` as written above. */
export function readStateDir(dir: string): { model: QwenModelDir; state: OptimizerState } {
  const model = loadModelDir(join(dir, WEIGHTS_GROUP));
  const state = stateFromWeights(model.config, model.weights);
  const file = join(dir, OPTIMIZER_GROUP, OPTIMIZER_FILE);
  const step = Number(readSafetensorsHeader(file).metadata[STEP_METADATA]);
  if (!Number.isSafeInteger(step) || step < 0) throw new Error(`${file}: no valid ${STEP_METADATA} metadata`);
  const moments = readSafetensors(file);
  for (const p of qwen2Parameters(model.config)) {
    const m = moments.get(`m.${p.name}`);
    const v = moments.get(`v.${p.name}`);
    if (!m || !v) throw new Error(`${file}: tensor m.${p.name} or v.${p.name} is missing`);
    state.m[p.name] = { data: m, dims: [...p.shape] };
    state.v[p.name] = { data: v, dims: [...p.shape] };
  }
  state.step = step;
  return { model, state };
}
