/**
 * The policy a server answers with: a model directory, or a verified checkpoint of a run read back from the
 * store (its `weights/` group is a model directory), compiled into a decode session. `version` names what
 * is loaded so a client can check it (the admin endpoint and every response's `system_fingerprint`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Executable, type SessionConfig } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import { loadModelDirFiles, loadWeights } from '../model/modelDir.ts';
import { buildQwen2Decode } from '../model/qwen2.ts';
import { QwenTokenizer } from '../model/tokenizer.ts';
import { weightRegions } from '../model/weightFiles.ts';
import {
  latestVerifiedCheckpoint,
  restoreCheckpointObjects,
  verifyCheckpoint,
  WEIGHTS_GROUP,
  type CheckpointManifest,
  type ObjectStore,
} from '../store/index.ts';

export type PolicyVersion =
  { source: 'dir'; path: string } | { source: 'store'; store: string; run: string; step: number };

export interface Policy {
  config: Qwen2Config;
  tokenizer: QwenTokenizer | undefined;
  /** config.json's eos ids and generation_config.json's. */
  stopTokenIds: number[];
  padTokenId: number;
  version: PolicyVersion;
  exec: Executable;
  /** Removes what loading left on disk (a checkpoint's restored files); after the session is released. */
  dispose(): Promise<void>;
}

/** A short name of a version, for logs and `system_fingerprint`. */
export function versionName(v: PolicyVersion): string {
  return v.source === 'dir' ? `dir:${v.path}` : `${v.run}@${v.step}`;
}

/** Loads a model directory and compiles its decode session (weights mapped from the files when possible). */
export async function loadPolicyDir(
  dir: string,
  session: SessionConfig,
  version: PolicyVersion = { source: 'dir', path: dir },
  dispose: () => Promise<void> = async () => {},
): Promise<Policy> {
  const model = loadModelDirFiles(dir);
  const config = model.config;
  // As `reasonloop generate` on the CPU: float32 shards stay in their files and onnxruntime maps them.
  const regions = session.device?.kind === 'cuda' ? undefined : weightRegions(dir, config);
  const weights = regions && 'regions' in regions ? regions.regions : loadWeights(dir, config);
  const exec = await Executable.compile(buildQwen2Decode(config, 'float32', weights, true).graph, session);
  const tokenizer = model.tokenizer ? new QwenTokenizer(model.tokenizer) : undefined;
  const generationEos = model.generationConfig?.eos_token_id;
  const stopTokenIds = [
    ...new Set([
      ...config.eosTokenId,
      ...(Array.isArray(generationEos)
        ? generationEos
        : typeof generationEos === 'number'
          ? [generationEos]
          : []),
    ]),
  ] as number[];
  return {
    config,
    tokenizer,
    stopTokenIds,
    // As the Generator's default: pad positions are masked, so the id only has to exist.
    padTokenId: 0,
    version,
    exec,
    dispose,
  };
}

/** The checkpoint asked for (it must verify), or the run's newest verified one. */
export async function servableCheckpoint(
  store: ObjectStore,
  run: string,
  step: number | undefined,
): Promise<CheckpointManifest> {
  let manifest: CheckpointManifest | undefined;
  if (step !== undefined) {
    const result = await verifyCheckpoint(store, run, step);
    if ('problem' in result)
      throw new Error(`checkpoint ${step} of run ${run} in ${store.location}: ${result.problem}`);
    manifest = result.manifest;
  } else {
    const latest = await latestVerifiedCheckpoint(store, run, { allowPruned: true });
    if (!latest.manifest) {
      const rejected = latest.rejected.map((r) => `step ${r.step}: ${r.reason}`).join('; ');
      throw new Error(
        `run ${run} in ${store.location} has no verified checkpoint${rejected ? ` (${rejected})` : ''}`,
      );
    }
    manifest = latest.manifest;
  }
  if (!manifest.objects.some((o) => o.name.startsWith(`${WEIGHTS_GROUP}/`)))
    throw new Error(
      `checkpoint ${manifest.step} of run ${run} has no ${WEIGHTS_GROUP}/ group (a LoRA checkpoint's adapters cannot be served yet: export it merged first)`,
    );
  return manifest;
}

/** A run's checkpoint, restored (sha256-checked) into a temp folder that lives as long as the policy. */
export async function loadPolicyCheckpoint(
  store: ObjectStore,
  run: string,
  step: number | undefined,
  session: SessionConfig,
): Promise<Policy> {
  const manifest = await servableCheckpoint(store, run, step);
  const dir = await mkdtemp(join(tmpdir(), 'reasonloop-serve-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    await restoreCheckpointObjects(store, manifest, `${WEIGHTS_GROUP}/`, dir);
    const version: PolicyVersion = { source: 'store', store: store.location, run, step: manifest.step };
    return await loadPolicyDir(dir, session, version, dispose);
  } catch (error) {
    await dispose();
    throw error;
  }
}
