/**
 * The weight-sync adapters, each against one server. SGLang and vLLM: a local HTTP fixture that records
 * the requests and answers as those engines document (their real servers are not run here): the adapter
 * sends the engine's reload call with the exported directory, and a refusal surfaces with the server's
 * message. `reasonloop serve`: the real ServeApp, whose loader stands in for the store (the version it
 * reports is the run and step asked for, or a wrong one): the adapter loads, skips a load already done,
 * and refuses a server left holding another step, naming the endpoint and both steps.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPolicyDir } from '../../../core/serve/policy.ts';
import { EndpointUnreachableError } from '../../../core/serve/postJson.ts';
import { ServeApp, type LoadRequest } from '../../../core/serve/server.ts';
import {
  checkServedVersion,
  serverRoot,
  StaleServerError,
  syncReasonloopServe,
  syncSglang,
  syncVllm,
} from '../../../core/serve/weightSync.ts';

const MODEL = fileURLToPath(new URL('../../fixtures/qwen2/untied/', import.meta.url));

interface Recorded {
  method: string;
  path: string;
  body: unknown;
}

/**
 * An HTTP server that records each request and answers `answer(path)`: [status, JSON body], after
 * `delayMs(path)` milliseconds (a load that takes long before it answers).
 */
async function fixture(
  answer: (path: string) => [number, unknown],
  delayMs: (path: string) => number = () => 0,
) {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '/';
      requests.push({ method: req.method ?? '', path, body: text ? JSON.parse(text) : undefined });
      setTimeout(() => {
        const [status, body] = answer(path);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      }, delayMs(path));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: { url: `http://127.0.0.1:${port}/v1`, model: 'policy' },
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('weight sync adapters', () => {
  it('serverRoot drops the API base /v1', () => {
    assert.equal(serverRoot({ url: 'http://h:1/v1/', model: 'm' }), 'http://h:1');
    assert.equal(serverRoot({ url: 'http://h:1/v1', model: 'm' }), 'http://h:1');
  });

  it('SGLang: POST /update_weights_from_disk {model_path}; success: false is an error with its message', async () => {
    let success = true;
    const f = await fixture((path) =>
      path === '/update_weights_from_disk'
        ? [200, { success, message: success ? 'ok' : 'shape mismatch' }]
        : [404, { detail: 'Not Found' }],
    );
    try {
      await syncSglang(f.endpoint, '/shared/export/run/step-000003');
      assert.deepEqual(f.requests, [
        {
          method: 'POST',
          path: '/update_weights_from_disk',
          body: { model_path: '/shared/export/run/step-000003' },
        },
      ]);
      success = false;
      await assert.rejects(syncSglang(f.endpoint, '/x'), /did not load \/x: 200 .*shape mismatch/);
      // No version route (404, as FastAPI answers): nothing to check, and nothing refused.
      await checkServedVersion(f.endpoint, { run: 'r', step: 3 });
      assert.equal(f.requests.at(-1)?.path, '/admin/version');
    } finally {
      await f.close();
    }
  });

  it('vLLM: POST /collective_rpc reload_weights {weights_path}, then /reset_prefix_cache; a 404 names dev mode', async () => {
    let rpc = 200;
    const f = await fixture((path) => (path === '/collective_rpc' ? [rpc, { results: [null] }] : [200, {}]));
    try {
      await syncVllm(f.endpoint, '/shared/export/run/step-000002');
      assert.deepEqual(f.requests, [
        {
          method: 'POST',
          path: '/collective_rpc',
          body: { method: 'reload_weights', kwargs: { weights_path: '/shared/export/run/step-000002' } },
        },
        { method: 'POST', path: '/reset_prefix_cache', body: undefined },
      ]);
      rpc = 404;
      await assert.rejects(syncVllm(f.endpoint, '/y'), /did not reload \/y: 404.*VLLM_SERVER_DEV_MODE=1/);
    } finally {
      await f.close();
    }
  });
});

describe('weight sync timeout', () => {
  // A load that answers after 600 ms: past a 200 ms timeout, within a 5 s one. Node 20's fetch gave up at 5
  // minutes whatever the setting; these calls are on node:http, where the caller's timeout is the only one.
  const slowLoad = (path: string) =>
    path === '/update_weights_from_disk' || path === '/admin/load' ? 600 : 0;

  it('SGLang: a load answered after the timeout fails naming the endpoint; within it, succeeds', async () => {
    const f = await fixture(() => [200, { success: true }], slowLoad);
    try {
      const root = serverRoot(f.endpoint);
      const late = await syncSglang(f.endpoint, '/d', { timeoutMs: 200 }).catch((e: unknown) => e);
      assert.ok(late instanceof EndpointUnreachableError, String(late));
      assert.equal(
        late.message,
        `rollout endpoint ${root}/update_weights_from_disk unreachable: no answer within 0.2 s`,
      );
      await syncSglang(f.endpoint, '/d', { timeoutMs: 5000 });
      assert.equal(f.requests.length, 2);
    } finally {
      await f.close();
    }
  });

  it('reasonloop serve: POST /admin/load past the timeout fails naming it; within it, the sync ends checked', async () => {
    let held = 0;
    const f = await fixture((path) => {
      if (path === '/admin/load') held = 1;
      return [
        200,
        path === '/admin/load' ? { ok: true } : { version: { source: 'store', run: 'r', step: held } },
      ];
    }, slowLoad);
    try {
      await assert.rejects(
        syncReasonloopServe(f.endpoint, { run: 'r', step: 1 }, { timeoutMs: 200 }),
        (e: unknown) =>
          e instanceof EndpointUnreachableError &&
          e.message ===
            `rollout endpoint ${serverRoot(f.endpoint)}/admin/load unreachable: no answer within 0.2 s`,
      );
      // The late load still ends on the server (its answer unread): let it, then start from step 0 again.
      await new Promise((r) => setTimeout(r, 600));
      held = 0;
      await syncReasonloopServe(f.endpoint, { run: 'r', step: 1 }, { timeoutMs: 5000 });
      assert.deepEqual(f.requests.map((r) => `${r.method} ${r.path}`).slice(-3), [
        'GET /admin/version',
        'POST /admin/load',
        'GET /admin/version',
      ]);
    } finally {
      await f.close();
    }
  });
});

describe('reasonloop serve weight sync', () => {
  const loads: LoadRequest[] = [];
  // What the loader reports having loaded: the step asked for, unless a test makes it lie.
  let skew = 0;
  let app: ServeApp | undefined;
  after(() => app?.close());

  it('loads the run and step asked for, skips a load already done, refuses a server left on another step', async () => {
    const load = async (what: LoadRequest) => {
      loads.push(what);
      assert.ok('run' in what);
      return loadPolicyDir(
        MODEL,
        {},
        { source: 'store', store: 'fixture', run: what.run, step: what.step! + skew },
      );
    };
    app = new ServeApp(await load({ run: 'r', step: 0 }), {
      modelName: 'policy',
      maxBatch: 4,
      maxQueue: 16,
      kvBudgetBytes: 1 << 24,
      load,
    });
    loads.length = 0;
    const { port } = await app.listen(0, '127.0.0.1');
    const endpoint = { url: `http://127.0.0.1:${port}/v1`, model: 'policy' };

    await syncReasonloopServe(endpoint, { run: 'r', step: 0 });
    assert.deepEqual(loads, [], 'the server already held r@0');
    await syncReasonloopServe(endpoint, { run: 'r', step: 1 });
    assert.deepEqual(loads, [{ run: 'r', step: 1 }]);
    await checkServedVersion(endpoint, { run: 'r', step: 1 });

    skew = -1;
    const stale = await syncReasonloopServe(endpoint, { run: 'r', step: 2 }).catch((e: unknown) => e);
    assert.ok(stale instanceof StaleServerError, String(stale));
    assert.match(
      stale.message,
      new RegExp(
        `rollout endpoint ${endpoint.url} holds r@1, but step 3 of run r samples from the checkpoint of step 2 \\(r@2\\)`,
      ),
    );
    await assert.rejects(checkServedVersion(endpoint, { run: 'other', step: 1 }), StaleServerError);
  });
});
