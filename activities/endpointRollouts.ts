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
 *
 * A server that gives no HTTP answer to its sync (down, killed, restarting) is left out of the attempt,
 * which samples on the servers that did sync: the requests carry their own RNG coordinates, so fewer
 * servers draw the same tokens, more slowly. A server killed mid-step fails that attempt (every request
 * in flight is aborted, core/serve/endpointSampler.ts); the retry samples on the survivors, and a server
 * started again rejoins at the next sync that reaches it. Only when no server answers does the attempt
 * fail, naming each one.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { heartbeat, log } from '@temporalio/activity';
import type { OpenAiRolloutEngine } from '../core/config/rolloutEngine.ts';
import type { GenerateOptions, Generation, GenerationRequest } from '../core/generate/generation.ts';
import { exportModelDir } from '../core/model/exportModelDir.ts';
import { generateFromEndpoints, type Endpoint } from '../core/serve/endpointSampler.ts';
import { EndpointUnreachableError } from '../core/serve/postJson.ts';
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

/**
 * The engine's `requestTimeoutSeconds`, for every request to a server: a completion and a weight-sync call
 * alike may take longer than fetch's 5 minutes (a long answer; a large checkpoint's load).
 */
function requestTimeout(engine: OpenAiRolloutEngine): { timeoutMs?: number } {
  const seconds = engine.requestTimeoutSeconds;
  return seconds === undefined ? {} : { timeoutMs: seconds * 1000 };
}

/** Makes `endpoint` hold `wanted` by the engine's weightSync (`dir`: the export of sglang/vllm), then checks it. */
async function syncOne(
  engine: OpenAiRolloutEngine,
  endpoint: Endpoint,
  wanted: WantedPolicy,
  dir: string | undefined,
): Promise<void> {
  const opts = requestTimeout(engine);
  switch (engine.weightSync) {
    case 'reasonloop':
      await syncReasonloopServe(endpoint, wanted, {
        ...opts,
        onWait: () => heartbeat({ sync: endpoint.url }),
      });
      return;
    case 'sglang':
      await syncSglang(endpoint, dir!, opts);
      break;
    case 'vllm':
      await syncVllm(endpoint, dir!, opts);
      break;
    case 'none':
      break;
  }
  await checkServedVersion(endpoint, wanted, opts);
}

/** Every answer except "no HTTP answer" fails the sync; the unreachable are listed apart. */
async function settleSyncs(
  endpoints: readonly Endpoint[],
  sync: (e: Endpoint) => Promise<void>,
): Promise<{ live: Endpoint[]; unreachable: EndpointUnreachableError[] }> {
  const outcomes = await Promise.allSettled(endpoints.map(sync));
  const live: Endpoint[] = [];
  const unreachable: EndpointUnreachableError[] = [];
  outcomes.forEach((o, i) => {
    if (o.status === 'fulfilled') live.push(endpoints[i]);
    else if (o.reason instanceof EndpointUnreachableError) unreachable.push(o.reason);
  });
  const failed = outcomes.find(
    (o): o is PromiseRejectedResult =>
      o.status === 'rejected' && !(o.reason instanceof EndpointUnreachableError),
  );
  if (failed) throw failed.reason;
  return { live, unreachable };
}

/**
 * Makes every endpoint that answers hold `wanted` by the engine's weightSync, checks what each reports,
 * and returns those endpoints; fails when none answers.
 */
export async function syncRolloutServers(
  engine: OpenAiRolloutEngine,
  store: ObjectStore,
  wanted: WantedPolicy,
): Promise<Endpoint[]> {
  const dir =
    engine.weightSync === 'sglang' || engine.weightSync === 'vllm'
      ? await exportedPolicyDir(store, engine.exportDir!, wanted)
      : undefined;
  const { live, unreachable } = await settleSyncs(engine.endpoints, (e) => syncOne(engine, e, wanted, dir));
  if (!live.length)
    throw new Error(
      `no rollout endpoint answered for step ${wanted.step + 1} of run ${wanted.run}: ${unreachable.map((u) => u.message).join('; ')}`,
    );
  for (const u of unreachable)
    log.warn(`left out of this attempt (${live.length} of ${engine.endpoints.length} sample): ${u.message}`);
  return live;
}

/** The Generator's `generate` on the servers that synced; a failure aborts every request in flight. */
export function generateOnServers(
  engine: OpenAiRolloutEngine,
  endpoints: readonly Endpoint[],
  requests: GenerationRequest[],
  opts: GenerateOptions,
  signal?: AbortSignal,
): Promise<Generation[]> {
  return generateFromEndpoints(endpoints, requests, opts, { signal, ...requestTimeout(engine) });
}
