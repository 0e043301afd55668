/**
 * Weight sync for rollouts on OpenAI-compatible servers: before a step samples, every server must hold the
 * policy of step − 1. One adapter per engine, each the engine's documented HTTP call:
 *  - `reasonloop serve`: POST /admin/load {run, step} (it reads the checkpoint from its --store), then
 *    GET /admin/version must name that run and step;
 *  - SGLang: POST /update_weights_from_disk {model_path} of the checkpoint exported as an HF directory;
 *  - vLLM (VLLM_SERVER_DEV_MODE=1): POST /collective_rpc {method: "reload_weights", kwargs: {weights_path}},
 *    then POST /reset_prefix_cache so no cached KV of the old weights is reused.
 * Only `reasonloop serve` reports what it holds; `checkServedVersion` refuses one that holds another step.
 *
 * Each call goes through requestJson (node:http), not `fetch`: a load answers only once the checkpoint is
 * in memory, and for a large one that takes longer than the 5 minutes after which Node 20's fetch gives up.
 * Its timeout is the caller's (`rollout.engine.requestTimeoutSeconds`, default an hour); a call not
 * answered by then raises EndpointUnreachableError naming the URL.
 */
import { DEFAULT_REQUEST_TIMEOUT_MS, type Endpoint } from './endpointSampler.ts';
import { requestJson } from './postJson.ts';

/** The policy a step samples from: the run's checkpoint of step − 1. */
export interface WantedPolicy {
  run: string;
  step: number;
}

/** A server that holds another policy than the step needs: sampling from it would be off-policy. */
export class StaleServerError extends Error {
  constructor(
    readonly endpoint: string,
    readonly wanted: WantedPolicy,
    readonly held: string,
  ) {
    super(
      `rollout endpoint ${endpoint} holds ${held}, but step ${wanted.step + 1} of run ${wanted.run} samples from the checkpoint of step ${wanted.step} (${wanted.run}@${wanted.step}); refusing to sample from stale weights`,
    );
    this.name = 'StaleServerError';
  }
}

/** The server's root (the API base without its /v1), where the admin routes live. */
export function serverRoot(endpoint: Endpoint): string {
  return endpoint.url.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/** How long each admin call may take before it fails as if its server were down. */
export interface SyncOptions {
  timeoutMs?: number;
}

async function call(
  endpoint: Endpoint,
  method: 'GET' | 'POST',
  path: string,
  opts: SyncOptions,
  body?: unknown,
) {
  const url = `${serverRoot(endpoint)}${path}`;
  const { status, text } = await requestJson(method, url, body, {
    headers: endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {},
    timeoutMs: opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  });
  return { url, status, ok: status >= 200 && status < 300, text };
}

interface ServedVersion {
  version?: { source?: string; run?: string; step?: number; path?: string };
  name?: string;
}

/** What `reasonloop serve` says it holds (GET /admin/version), or undefined for a server without the route. */
export async function servedVersion(
  endpoint: Endpoint,
  opts: SyncOptions = {},
): Promise<ServedVersion | undefined> {
  const r = await call(endpoint, 'GET', '/admin/version', opts);
  if (r.status === 404) return undefined;
  if (!r.ok) throw new Error(`${r.url} answered ${r.status}: ${r.text.slice(0, 300)}`);
  return JSON.parse(r.text) as ServedVersion;
}

function holds(v: ServedVersion, wanted: WantedPolicy): boolean {
  return v.version?.source === 'store' && v.version.run === wanted.run && v.version.step === wanted.step;
}

/**
 * Refuses a server that reports another version than `wanted` (StaleServerError, naming both); a server
 * that reports none (SGLang, vLLM) passes, since there is nothing to check.
 */
export async function checkServedVersion(
  endpoint: Endpoint,
  wanted: WantedPolicy,
  opts: SyncOptions = {},
): Promise<void> {
  const v = await servedVersion(endpoint, opts);
  if (v && !holds(v, wanted))
    throw new StaleServerError(endpoint.url, wanted, v.name ?? JSON.stringify(v.version));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Makes a `reasonloop serve` hold `wanted`: nothing when it already does (the step's other shards may have
 * loaded it), else POST /admin/load; a load already under way (409, another shard's) is waited for. Ends
 * with the version check, so a server that took another load meanwhile is refused, not sampled.
 */
export async function syncReasonloopServe(
  endpoint: Endpoint,
  wanted: WantedPolicy,
  opts: SyncOptions & { waitMs?: number; onWait?: () => void } = {},
): Promise<void> {
  const before = await servedVersion(endpoint, opts);
  if (!before)
    throw new Error(
      `rollout endpoint ${endpoint.url} has no /admin/version: weightSync "reasonloop" needs \`reasonloop serve\``,
    );
  if (holds(before, wanted)) return;
  const r = await call(endpoint, 'POST', '/admin/load', opts, { run: wanted.run, step: wanted.step });
  if (r.status === 409) {
    const deadline = Date.now() + (opts.waitMs ?? 600_000);
    for (;;) {
      opts.onWait?.();
      const v = await servedVersion(endpoint, opts);
      if (v && holds(v, wanted)) break;
      if (Date.now() > deadline) break;
      await sleep(200);
    }
  } else if (!r.ok) {
    throw new Error(
      `${r.url} could not load ${wanted.run}@${wanted.step}: ${r.status} ${r.text.slice(0, 500)}`,
    );
  }
  await checkServedVersion(endpoint, wanted, opts);
}

/** SGLang's documented reload: the server reads the HF directory `modelPath` and swaps its weights. */
export async function syncSglang(
  endpoint: Endpoint,
  modelPath: string,
  opts: SyncOptions = {},
): Promise<void> {
  const r = await call(endpoint, 'POST', '/update_weights_from_disk', opts, { model_path: modelPath });
  let success = r.ok;
  try {
    success &&= (JSON.parse(r.text) as { success?: boolean }).success !== false;
  } catch {
    // A 200 without a JSON body: the status says it.
  }
  if (!success) throw new Error(`${r.url} did not load ${modelPath}: ${r.status} ${r.text.slice(0, 500)}`);
}

/**
 * vLLM's reload of checkpoint-format weights from disk through the dev-mode RPC route, then a prefix-cache
 * reset (cached prompt KV was computed by the old weights).
 */
export async function syncVllm(endpoint: Endpoint, modelPath: string, opts: SyncOptions = {}): Promise<void> {
  const reload = await call(endpoint, 'POST', '/collective_rpc', opts, {
    method: 'reload_weights',
    kwargs: { weights_path: modelPath },
  });
  if (!reload.ok)
    throw new Error(
      `${reload.url} did not reload ${modelPath}: ${reload.status} ${reload.text.slice(0, 500)} (vLLM serves /collective_rpc with VLLM_SERVER_DEV_MODE=1)`,
    );
  const reset = await call(endpoint, 'POST', '/reset_prefix_cache', opts);
  if (!reset.ok) throw new Error(`${reset.url} answered ${reset.status}: ${reset.text.slice(0, 300)}`);
}
