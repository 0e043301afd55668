/**
 * What `reasonloop export` needs of a LoRA checkpoint: its `adapter/` group (a PEFT adapter directory plus
 * `base_model.json`, the reference to the frozen base, as the trainer writes them: activities/loraState.ts)
 * and the base as an HF model directory to merge into — the run's model.dir as it is, another run's
 * checkpoint streamed from its store (sha256 checked), or an init recipe written out (test-size models).
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunConfig } from '../../core/config/run.ts';
import { makeQwen2Config } from '../../core/model/config.ts';
import { writeModelDir, type QwenModelDir } from '../../core/model/modelDir.ts';
import { initQwen2Weights } from '../../core/model/parameters.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../../core/model/peftAdapter.ts';
import { buildTinyTokenizer } from '../../core/model/tinyTokenizer.ts';
import {
  openStore,
  restoreCheckpointObjects,
  verifyCheckpoint,
  WEIGHTS_GROUP,
  type CheckpointManifest,
  type ObjectStore,
} from '../../core/store/index.ts';

/** The checkpoint group of a LoRA run's policy, and the base reference file in it. */
const ADAPTER_GROUP = 'adapter';
const BASE_REF_FILE = 'base_model.json';

/** Where a LoRA run's base comes from: the run's model source and the store a checkpoint source is in. */
export interface BaseReference {
  model: RunConfig['model'];
  store: { url: string };
}

/** True when a checkpoint holds a LoRA run's adapters (its `adapter/` group) rather than whole weights. */
export function isLoraCheckpoint(manifest: CheckpointManifest): boolean {
  return manifest.objects.some((o) => o.name.startsWith(`${ADAPTER_GROUP}/`));
}

/** Streams the checkpoint's `adapter/` group into `dir`; returns the base it references. */
export async function restoreAdapterGroup(
  store: ObjectStore,
  manifest: CheckpointManifest,
  dir: string,
): Promise<BaseReference> {
  await restoreCheckpointObjects(store, manifest, `${ADAPTER_GROUP}/`, dir);
  return JSON.parse(readFileSync(join(dir, BASE_REF_FILE), 'utf8')) as BaseReference;
}

/** Copies the PEFT files of a restored adapter group into `out` (our base reference stays behind). */
export function copyPeftAdapter(adapterDir: string, out: string): string[] {
  const files = [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE];
  for (const f of files) copyFileSync(join(adapterDir, f), join(out, f));
  return files;
}

/** The base as an HF model directory: `model.dir` itself, or written under `work`. */
export async function baseModelDir(base: BaseReference, work: string): Promise<string> {
  const { dir, checkpoint, init } = base.model;
  if (dir) return dir;
  const target = join(work, 'base');
  if (checkpoint) {
    const store = openStore(base.store.url);
    const manifest = await verifiedBase(store, checkpoint.runId, checkpoint.step);
    if (isLoraCheckpoint(manifest))
      throw new Error(
        `the base, checkpoint ${manifest.step} of run ${checkpoint.runId}, is itself a LoRA checkpoint: merge it first`,
      );
    await restoreCheckpointObjects(store, manifest, `${WEIGHTS_GROUP}/`, target);
    return target;
  }
  if (!init) throw new Error(`${BASE_REF_FILE}: names no model source`);
  const config = makeQwen2Config({ ...init.config, eosTokenId: init.config.eosTokenId });
  const model: QwenModelDir = { config, weights: initQwen2Weights(config, init.seed) };
  if (init.tokenizer === 'tinyBytes') model.tokenizer = buildTinyTokenizer();
  writeModelDir(target, model);
  return target;
}

async function verifiedBase(store: ObjectStore, runId: string, step: number): Promise<CheckpointManifest> {
  const result = await verifyCheckpoint(store, runId, step);
  if ('problem' in result)
    throw new Error(`the base, checkpoint ${step} of run ${runId} in ${store.location}: ${result.problem}`);
  return result.manifest;
}
