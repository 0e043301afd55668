/**
 * sampleRollouts' path for `rollout.engine.kind: "openai"`: first every server is made to hold the policy
 * of step − 1 (core/serve/weightSync.ts, by the engine's mechanism) and checked, then the shard's requests
 * are spread across the servers through core/serve's endpoint sampler — the sampler `reasonloop eval
 * --endpoint` uses, with the same RNG coordinates and tool turns as the in-process Generator.
 *
 * A server found holding another step raises StaleServerError as a retryable failure: what a server holds
 * is another process's state that changes (a user's own sync with weightSync "none", another shard's load
 * still under way), so a later attempt may find it right; the retry policy bounds the attempts, and each
 * failure names the endpoint and both versions. No attempt ever samples from the stale server.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { heartbeat } from '@temporalio/activity';
import type { OpenAiRolloutEngine } from '../core/config/rolloutEngine.ts';
import type { GenerateOptions, Generation, GenerationRequest } from '../core/generate/generation.ts';
import { exportModelDir } from '../core/model/exportModelDir.ts';
import { generateFromEndpoints, type Endpoint } from '../core/serve/endpointSampler.ts';
import {
  checkServedVersion,
  syncReasonloopServe,
  syncSglang,
  syncVllm,
  type WantedPolicy,
} from '../core/serve/weightSync.ts';
import { restoreCheckpointObjects, WEIGHTS_GROUP, type ObjectStore } from '../core/store/index.ts';
import { verifiedManifest } from './runtime.ts';

/**
 * The checkpoint of `wanted` as an HF model directory under `exportDir` (float32: the server casts to its
 * own --dtype), written once: a folder that exists was renamed into place whole by an earlier attempt.
 */
export async function exportedPolicyDir(
  store: ObjectStore,
  exportDir: string,
  wanted: WantedPolicy,
): Promise<string> {
  const out = join(exportDir, wanted.run, `step-${String(wanted.step).padStart(6, '0')}`);
  if (existsSync(out)) return out;
  await mkdir(join(exportDir, wanted.run), { recursive: true });
  const manifest = await verifiedManifest(store, wanted.run, wanted.step);
  const work = await mkdtemp(join(exportDir, wanted.run, '.export-'));
  try {
    const source = join(work, 'checkpoint');
    await restoreCheckpointObjects(store, manifest, `${WEIGHTS_GROUP}/`, source);
    exportModelDir(source, join(work, 'out'), { dtype: 'F32' });
    renameSync(join(work, 'out'), out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

/** Makes every endpoint hold `wanted` by the engine's weightSync, then checks what each reports. */
export async function syncRolloutServers(
  engine: OpenAiRolloutEngine,
  store: ObjectStore,
  wanted: WantedPolicy,
): Promise<void> {
  const endpoints: Endpoint[] = engine.endpoints;
  switch (engine.weightSync) {
    case 'reasonloop':
      await Promise.all(
        endpoints.map((e) => syncReasonloopServe(e, wanted, { onWait: () => heartbeat({ sync: e.url }) })),
      );
      return;
    case 'sglang':
    case 'vllm': {
      const dir = await exportedPolicyDir(store, engine.exportDir!, wanted);
      const load = engine.weightSync === 'sglang' ? syncSglang : syncVllm;
      await Promise.all(endpoints.map((e) => load(e, dir)));
      break;
    }
    case 'none':
      break;
  }
  await Promise.all(endpoints.map((e) => checkServedVersion(e, wanted)));
}

/** The Generator's `generate` on the engine's servers, after their weights are synced. */
export function generateOnServers(
  engine: OpenAiRolloutEngine,
  requests: GenerationRequest[],
  opts: GenerateOptions,
): Promise<Generation[]> {
  return generateFromEndpoints(engine.endpoints, requests, opts);
}
