/**
 * The policy of a checkpoint as a worker role runs it, held by the activity that uses it (policyFiles.ts).
 * A full-weights checkpoint is its `weights/` folder, streamed in and mapped. A LoRA checkpoint is its
 * base (mapped from the model directory, or a checkpoint's streamed-in folder; read once per run, kept
 * across steps) and its adapters, which the sampler adds in the graph as PEFT's unmerged layer computes
 * them (x·Wᵀ + s·(x·Aᵀ)·Bᵀ), so no merged copy of the model is made per step.
 */
import type { GeneratorWeights } from '../core/generate/generator.ts';
import type { Qwen2Config } from '../core/model/config.ts';
import type { QwenModelDir } from '../core/model/modelDir.ts';
import { loraModules, mergeLoraWeights, type LoraSpec } from '../core/model/lora.ts';
import type { CheckpointManifest, ObjectStore } from '../core/store/index.ts';
import { ADAPTER_GROUP, isLoraCheckpoint, readAdapterGroup, readBaseReference } from './loraState.ts';
import {
  checkpointManifest,
  dirWeights,
  restoreWeightsGroup,
  holdRoleSlot,
  type Held,
  type PolicyRole,
  type WeightUse,
} from './policyFiles.ts';
import {
  initialModel,
  modelConfig,
  modelFiles,
  runStore,
  withRestored,
  type ModelSource,
} from './runtime.ts';

/** A policy as a generator takes it: the weights, and with LoRA the adapters added to them. */
export interface CheckpointPolicy {
  weights: GeneratorWeights;
  /** The adapters, their spec, and the architecture they were read against (the base's). */
  lora?: { spec: LoraSpec; adapters: Map<string, Float32Array>; config: Qwen2Config };
}

/**
 * The policy of checkpoint `step` for `role`, its weights mapped or read as `use` asks, held until the
 * caller's `release` (the activity's end).
 */
export async function checkpointPolicy(
  role: PolicyRole,
  store: ObjectStore,
  runId: string,
  step: number,
  use: WeightUse,
): Promise<Held<CheckpointPolicy>> {
  const manifest = await checkpointManifest(store, runId, step);
  if (!isLoraCheckpoint(manifest.objects)) {
    const id = `${store.location}|${runId}|${step}|${use}`;
    const { value: weights, release } = await holdRoleSlot(
      role,
      id,
      async (dir) => (await restoreWeightsGroup(store, manifest, dir, use)).weights,
    );
    return { weights, release };
  }
  const { base, config, spec, adapters } = await checkpointAdapters(store, manifest);
  const id = `base|${JSON.stringify([base.model, base.store.url])}|${use}`;
  const { value: weights, release } = await holdRoleSlot(role, id, (dir) => baseWeights(base, dir, use));
  return { weights, lora: { spec, adapters, config }, release };
}

/** The adapters of checkpoint `step` of a LoRA run, and their spec; any other checkpoint is an error. */
export async function checkpointLoraAdapters(
  store: ObjectStore,
  runId: string,
  step: number,
): Promise<{ spec: LoraSpec; adapters: Map<string, Float32Array> }> {
  const manifest = await checkpointManifest(store, runId, step);
  if (!isLoraCheckpoint(manifest.objects))
    throw new Error(`checkpoint ${step} of run ${runId} holds no adapters: not a LoRA run's`);
  const { spec, adapters } = await checkpointAdapters(store, manifest);
  return { spec, adapters };
}

/** The adapters of a LoRA checkpoint and the base they adapt (a few MB: read through a temp folder). */
async function checkpointAdapters(
  store: ObjectStore,
  manifest: CheckpointManifest,
): Promise<{
  base: ModelSource;
  config: Qwen2Config;
  spec: LoraSpec;
  adapters: Map<string, Float32Array>;
}> {
  return withRestored(store, manifest, `${ADAPTER_GROUP}/`, async (dir) => {
    const base = readBaseReference(dir);
    const config = await modelConfig(base);
    return { base, config, ...readAdapterGroup(dir, config) };
  });
}

/**
 * A LoRA run's base: the model directory's files themselves, another run's full checkpoint streamed into
 * `dir`, or (an `init` recipe, or a base that is itself adapted) the arrays initialModel builds.
 */
async function baseWeights(source: ModelSource, dir: string, use: WeightUse): Promise<GeneratorWeights> {
  const { dir: modelDir, checkpoint } = source.model;
  if (modelDir) return dirWeights(modelDir, await modelConfig(source), use);
  if (checkpoint) {
    const store = runStore(source);
    const manifest = await checkpointManifest(store, checkpoint.runId, checkpoint.step);
    if (!isLoraCheckpoint(manifest.objects))
      return (await restoreWeightsGroup(store, manifest, dir, use)).weights;
  }
  return (await initialModel(source)).weights;
}

/**
 * As checkpointPolicy, as arrays with any adapters merged in (W + s·B·A): what a scorer feeds its
 * session. Adapters that add nothing (B = 0, a LoRA run's step 0) leave the base's arrays as they are.
 */
export async function checkpointPolicyArrays(
  role: PolicyRole,
  store: ObjectStore,
  runId: string,
  step: number,
): Promise<Held<{ arrays: Map<string, Float32Array> }>> {
  const { weights, lora, release } = await checkpointPolicy(role, store, runId, step, 'arrays');
  const arrays = weights as Map<string, Float32Array>;
  if (!lora) return { arrays, release };
  if (loraModules(lora.config, lora.spec).every((m) => lora.adapters.get(m.b.name)!.every((x) => x === 0)))
    return { arrays, release };
  return { arrays: mergeLoraWeights(lora.config, lora.spec, arrays, lora.adapters), release };
}

/** A model's files and its policy, as an evaluation or a difficulty filter samples it. */
export interface SourcePolicy {
  model: Omit<QwenModelDir, 'weights'>;
  policy: CheckpointPolicy;
}

/**
 * The policy a model source names (a checkpoint, a model directory mapped in place, an init recipe's
 * arrays), held as `role`'s one weight set.
 */
export async function sourcePolicy(
  role: PolicyRole,
  source: ModelSource,
  use: WeightUse,
): Promise<Held<SourcePolicy>> {
  const model = await modelFiles(source);
  const { dir, checkpoint } = source.model;
  if (checkpoint) {
    const store = runStore(source);
    const { release, ...policy } = await checkpointPolicy(
      role,
      store,
      checkpoint.runId,
      checkpoint.step,
      use,
    );
    return { model, policy, release };
  }
  const id = `source|${JSON.stringify([source.model, source.store.url])}|${use}`;
  const { value: weights, release } = await holdRoleSlot(role, id, async () =>
    dir ? dirWeights(dir, model.config, use) : (await initialModel(source)).weights,
  );
  return { model, policy: { weights }, release };
}
