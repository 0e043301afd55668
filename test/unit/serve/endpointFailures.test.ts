/**
 * Rollout servers that fail: a server whose connection is reset mid-request (what kill -9 does) fails the
 * whole call at once, naming it, and the requests in flight on the other server are aborted (their sockets
 * closed), not left running; a server that never answers fails the call at the request timeout. At sync,
 * a server that gives no HTTP answer is left out while another answers, and the attempt fails naming each
 * server when none does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { syncRolloutServers } from '../../../activities/endpointRollouts.ts';
import type { GenerateOptions, GenerationRequest } from '../../../core/generate/generation.ts';
import { generateFromEndpoints } from '../../../core/serve/endpointSampler.ts';
import { EndpointUnreachableError } from '../../../core/serve/postJson.ts';
import { openStore } from '../../../core/store/index.ts';

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handle);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

/** A URL where nothing listens: a port bound, then released. */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}/v1`;
}

/** A server that takes every completion request and never answers; `open` counts those not yet closed. */
async function silentServer() {
  const state = { received: 0, open: 0 };
  const url = await serve((req) => {
    state.received++;
    state.open++;
    req.socket.once('close', () => state.open--);
  });
  return { url, state };
}

const requests: GenerationRequest[] = Array.from({ length: 6 }, (_, i) => ({
  promptIds: [1, 2, 3],
  prompt: i,
  sample: 0,
}));
const opts: GenerateOptions = { maxNewTokens: 4, sampling: { temperature: 1 }, seed: 1 };

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('a server reset mid-request fails the call at once, naming it; the other server is let go', async () => {
  const silent = await silentServer();
  let resets = 0;
  // The connection dropped once the request has arrived, as when the server process is killed.
  const killed = await serve((req) => {
    resets++;
    setTimeout(() => req.socket.destroy(), 50);
  });
  const started = Date.now();
  await assert.rejects(
    generateFromEndpoints(
      [
        { url: silent.url, model: 'm' },
        { url: killed, model: 'm' },
      ],
      requests,
      opts,
    ),
    (error: Error) => {
      assert.ok(error instanceof EndpointUnreachableError, String(error));
      assert.equal(error.message, `rollout endpoint ${killed}/completions unreachable: ECONNRESET`);
      return true;
    },
  );
  assert.ok(Date.now() - started < 3000, `failed after ${Date.now() - started} ms`);
  assert.ok(resets > 0 && silent.state.received > 0);
  await until('the silent server sees its requests closed', () => silent.state.open === 0);
});

it('a server that never answers fails the call at the request timeout', async () => {
  const silent = await silentServer();
  await assert.rejects(
    generateFromEndpoints([{ url: silent.url, model: 'm' }], requests, opts, { timeoutMs: 300 }),
    new RegExp(
      `^EndpointUnreachableError: rollout endpoint ${silent.url}/completions unreachable: no answer within 0.3 s$`,
    ),
  );
  await until('the timed-out requests are closed', () => silent.state.open === 0);
});

it('sync: a server that does not answer is left out while another does; none answering fails naming each', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'endpoint-failures-'));
  try {
    const store = openStore(dir);
    // A server without /admin/version (as SGLang, vLLM): weightSync "none" has nothing to check on it.
    const live = await serve((_req, res) => res.writeHead(404).end());
    const [dead1, dead2] = [await deadUrl(), await deadUrl()];
    const engine = (urls: string[]) => ({
      kind: 'openai' as const,
      endpoints: urls.map((url) => ({ url, model: 'm' })),
      weightSync: 'none' as const,
    });
    const env = new MockActivityEnvironment();
    const wanted = { run: 'r', step: 0 };
    assert.deepEqual(await env.run(syncRolloutServers, engine([dead1, live]), store, wanted), [
      { url: live, model: 'm' },
    ]);
    const root = (url: string) => url.replace(/\/v1$/, '');
    await assert.rejects(
      env.run(syncRolloutServers, engine([dead1, dead2]), store, wanted),
      new RegExp(
        `^Error: no rollout endpoint answered for step 1 of run r: rollout endpoint ${root(dead1)}/admin/version unreachable: ECONNREFUSED; rollout endpoint ${root(dead2)}/admin/version unreachable: ECONNREFUSED$`,
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
