/**
 * Preflight of an OpenAI-compatible server a config names (`evaluation.model.endpoint`,
 * `run.rollout.engine.endpoints[i]`): it answers `GET /models` within a bounded time and lists the model
 * the config asks for. The error names the field, the URL and why (the socket's error code when nothing
 * answered), so a typo or a server not started yet is caught before anything starts.
 */

/** How long the server may take to answer `/models`: an answer, not a hang. */
export const ENDPOINT_PROBE_TIMEOUT_MS = 10_000;

/** Why a fetch got no answer: undici says only "fetch failed", its cause has the code. */
function whyUnanswered(error: Error): string {
  if (error.name === 'TimeoutError') return `no answer within ${ENDPOINT_PROBE_TIMEOUT_MS / 1000} s`;
  return (error.cause as { code?: string } | undefined)?.code ?? error.message;
}

/** The endpoint at `url` answers `/models` and lists `model`; else an error naming `field`. */
export async function checkEndpointServes(url: string, model: string, field: string): Promise<void> {
  let ids: string[];
  try {
    const res = await fetch(`${url.replace(/\/$/, '')}/models`, {
      signal: AbortSignal.timeout(ENDPOINT_PROBE_TIMEOUT_MS),
    }).catch((error: Error) => {
      throw new Error(`GET /models: ${whyUnanswered(error)}`);
    });
    if (!res.ok) throw new Error(`GET /models answered ${res.status}`);
    ids = ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id);
  } catch (error) {
    throw new Error(
      `${field} ${url}: not reachable as an OpenAI-compatible server (${(error as Error).message})`,
      { cause: error },
    );
  }
  if (!ids.includes(model))
    throw new Error(`${field} ${url}: serves ${ids.join(', ') || 'no model'}, not ${model}`);
}

/** Every endpoint of `endpoints` in turn, each named by its index under `field`. */
export async function checkEndpointsServe(
  endpoints: readonly { url: string; model: string }[],
  field: string,
): Promise<void> {
  for (const [i, e] of endpoints.entries()) await checkEndpointServes(e.url, e.model, `${field}[${i}]`);
}
