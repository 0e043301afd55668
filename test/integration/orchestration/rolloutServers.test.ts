/**
 * rollout.engine {kind: "openai"} through the stack against two real `reasonloop serve` child processes:
 * a tiny run sampled on the servers (weightSync "reasonloop": each server loads the checkpoint of step − 1
 * from the run's store before the step samples) draws the same tokens, step by step and response by
 * response, as the same run sampled in-process with the same seed, and with algorithm.recomputeOldLogprobs
 * ends with the same weights bit for bit. The servers' log-probs come from a batched decode and differ from
 * the Generator's in the last bits (below 1e-7 here); without the recomputation the loss's old
 * log-probs are those, and AdamW magnifies them: the weights differed by 2.0e-3 after two steps. The run's
 * preflight refuses an endpoint where nothing listens, naming it, before anything is written. One server
 * is killed (kill -9) while its requests of step 1 are in flight: the attempt fails naming it, the retry
 * samples on the other server alone, and the run still matches. The SGLang sync
 * exports the final checkpoint as an HF directory (checked weight for weight) and posts its path to a
 * recording stand-in server. A run whose servers hold another run's
 * step (weightSync "none") is refused before any token is sampled, naming the endpoint and both steps.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { rolloutKey } from '../../../activities/runtime.ts';
import { latestVerifiedCheckpoint, openStore, runPrefix } from '../../../core/store/index.ts';
import { loadModelDir } from '../../../core/model/modelDir.ts';
import { preflightRun } from '../../../client/preflight.ts';
import { killingRelay } from './killingRelay.ts';
import {
  assertSameWeights,
  finalWeights,
  servers,
  startServe,
  stepRecords,
  stopServers,
} from './serveProcesses.ts';
import { syncRolloutServers } from '../../../activities/endpointRollouts.ts';
import {
  runWorkers,
  startHarness,
  tempStoreDir,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from './harness.ts';

const TEST_TIMEOUT_MS = 600_000;
/** The servers' log-probs against the in-process Generator's (measured: below 1e-7 on this model). */
const LOGPROB_TOLERANCE = 1e-5;

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  stopServers();
  await h?.stop();
});

/** A URL where nothing listens: a port bound, then released. */
async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}/v1`;
}

const engineOn = (urls: string[]) => ({
  kind: 'openai' as const,
  endpoints: urls.map((url) => ({ url, model: 'policy' })),
  weightSync: 'reasonloop' as const,
});

/** The failures of the sampleRollouts attempts that were retried, from the run's history. */
async function retriedSamplingFailures(handle: WorkflowHandle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const sampling = new Set(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sampleRollouts')
      .map((e) => String(e.eventId)),
  );
  return events.flatMap((e) => {
    const started = e.activityTaskStartedEventAttributes;
    if (!started || !sampling.has(String(started.scheduledEventId))) return [];
    return started.lastFailure?.message ? [started.lastFailure.message] : [];
  });
}

/** The last failure of the run's pending sampleRollouts, once an attempt has failed. */
async function samplingFailure(handle: WorkflowHandle): Promise<string> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { raw } = await handle.describe();
    const pending = (raw.pendingActivities ?? []).find((a) => a.activityType?.name === 'sampleRollouts');
    const message = pending?.lastFailure?.message;
    if (message) return message;
    if (Date.now() > deadline) throw new Error('no failed sampleRollouts attempt within 120 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}

it(
  "openai engine on two reasonloop serve processes: the in-process run's tokens and weights; a stale server refused",
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const queues = uniqueQueues('rollout-servers');
    const tag = Date.now().toString(36);
    const storeUrl = tempStoreDir();
    const store = openStore(storeUrl);
    const workers = await runWorkers(h, queues);
    try {
      const config = (runId: string, rollout: Record<string, unknown> = {}) => {
        const c = tinyRunConfig(runId, storeUrl, queues, { steps: 2 });
        return {
          ...c,
          rollout: { ...c.rollout, ...rollout },
          // The loss's old log-probs from the trainer's pass over the checkpoint, not from the sampler.
          algorithm: { ...c.algorithm, recomputeOldLogprobs: true },
          orchestration: { ...c.orchestration, keepRollouts: true },
        };
      };
      const local = `servers-local-${tag}`;
      await h.client.workflow.execute('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: local,
        args: [config(local)],
      });

      // Both servers start on the in-process run's step 0 (the same init): the server run must load its own.
      const serveArgs = ['--run', local, '--step', '0', '--store', storeUrl, '--served-model-name', 'policy'];
      const urls = await Promise.all(['a', 'b'].map(() => startServe(serveArgs)));
      const remote = `servers-remote-${tag}`;

      // Preflight: a server that does not answer is named before anything starts, and nothing is written.
      const down = await closedPortUrl();
      await assert.rejects(
        preflightRun(config(remote, { engine: engineOn([urls[0], down]) })),
        new RegExp(
          `run\\.rollout\\.engine\\.endpoints\\[1\\] ${down}: not reachable as an OpenAI-compatible server \\(GET /models: ECONNREFUSED\\)`,
        ),
      );
      assert.deepEqual(await store.list(runPrefix(remote)), [], 'a refused start writes nothing');

      // Server b is reached through a relay that kills it (kill -9) once its 3rd completion request of the
      // run is in flight: step 1's attempt fails at once naming b, the retry samples on a alone.
      const b = servers[1];
      const exited = new Promise<NodeJS.Signals | null>((r) => b.once('exit', (_code, signal) => r(signal)));
      const relay = await killingRelay(Number(new URL(urls[1]).port), 'POST /v1/completions', 3, async () => {
        b.kill('SIGKILL');
        await exited;
      });
      const endpoints = [
        { url: urls[0], model: 'policy' },
        { url: relay.url, model: 'policy' },
      ];
      const remoteRun = await h.client.workflow.start('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: remote,
        args: [config(remote, { engine: { kind: 'openai', endpoints, weightSync: 'reasonloop' } })],
      });
      await relay.killed;
      const killedAt = Date.now();
      await remoteRun.result();
      assert.equal(await exited, 'SIGKILL');
      const failures = await retriedSamplingFailures(remoteRun);
      assert.ok(failures.length >= 1, 'a sampleRollouts attempt failed and was retried');
      assert.match(
        failures[0],
        new RegExp(`^rollout endpoint ${relay.url}/completions unreachable: (ECONNRESET|ECONNREFUSED)$`),
      );
      // Not a hang: the heartbeat and request timeouts are a minute and more; the retry starts after 1 s.
      const seconds = (Date.now() - killedAt) / 1000;
      assert.ok(seconds < 45, `the run took ${seconds} s to finish after the kill`);
      console.error(`rollout servers: b killed mid-step 1; the run finished ${seconds.toFixed(1)} s later`);

      let maxLogprobDiff = 0;
      for (const step of [1, 2]) {
        const [a, b] = [await stepRecords(store, local, step), await stepRecords(store, remote, step)];
        assert.equal(b.length, 8 * 4);
        assert.deepEqual(
          b.map(({ logprobs: _l, ...r }) => r),
          a.map(({ logprobs: _l, ...r }) => r),
          `step ${step}: tokens`,
        );
        b.forEach((r, i) =>
          r.logprobs.forEach(
            (lp, t) => (maxLogprobDiff = Math.max(maxLogprobDiff, Math.abs(lp - a[i].logprobs[t]))),
          ),
        );
      }
      const [wa, wb] = [await finalWeights(store, local), await finalWeights(store, remote)];
      assert.equal(wb.step, 2);
      const metrics = async (runId: string) =>
        (await latestVerifiedCheckpoint(store, runId, { allowPruned: true })).manifest!.metrics;
      const [ma, mb] = [await metrics(local), await metrics(remote)];
      console.error(
        `rollout servers: max |Δ logprob| server vs in-process ${maxLogprobDiff}; sampler vs recomputed: ` +
          `in-process mean ${ma.oldLogprobDiffMean} max ${ma.oldLogprobDiffMax}, ` +
          `servers mean ${mb.oldLogprobDiffMean} max ${mb.oldLogprobDiffMax}`,
      );
      // The servers' log-probs are the engine's (a batched decode): close, not the same bits.
      assert.ok(maxLogprobDiff < LOGPROB_TOLERANCE, `log-probs differ by ${maxLogprobDiff}`);
      assert.ok(mb.oldLogprobDiffMax < LOGPROB_TOLERANCE);
      // Same tokens, old log-probs recomputed from the same checkpoints: the same weights, bit for bit.
      assertSameWeights(wa.weights, wb.weights);

      // SGLang's sync on the same store: the checkpoint exported as an HF directory the server is told to load
      // (a recording HTTP server stands in for SGLang), holding the checkpoint's weights.
      const exportDir = mkdtempSync(join(tmpdir(), 'rollout-export-'));
      const bodies: unknown[] = [];
      const sglang = createServer((req, res) => {
        let text = '';
        req.on('data', (c: Buffer) => (text += c.toString()));
        req.on('end', () => {
          if (req.url !== '/update_weights_from_disk') return res.writeHead(404).end('{}');
          bodies.push(JSON.parse(text));
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end('{"success": true, "message": "ok"}');
        });
      });
      await new Promise<void>((r) => sglang.listen(0, '127.0.0.1', r));
      try {
        const port = (sglang.address() as AddressInfo).port;
        const engine = {
          kind: 'openai' as const,
          endpoints: [{ url: `http://127.0.0.1:${port}/v1`, model: 'policy' }],
          weightSync: 'sglang' as const,
          exportDir,
        };
        await syncRolloutServers(engine, store, { run: remote, step: 2 });
        const dir = join(exportDir, remote, 'step-000002');
        assert.deepEqual(bodies, [{ model_path: dir }]);
        const exported = loadModelDir(dir).weights;
        for (const [name, w] of wb.weights)
          assert.ok(
            Buffer.from(w.buffer).equals(Buffer.from(exported.get(name)!.buffer)),
            `exported ${name}`,
          );
      } finally {
        sglang.close();
        rmSync(exportDir, { recursive: true, force: true });
      }

      // Server a now holds the remote run's step 1 (b is dead: left out at sync); a run whose user syncs
      // ("none") and did not is refused.
      const stale = `servers-stale-${tag}`;
      const handle = await h.client.workflow.start('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: stale,
        args: [config(stale, { engine: { kind: 'openai', endpoints, weightSync: 'none' } })],
      });
      try {
        const message = await samplingFailure(handle);
        assert.match(
          message,
          new RegExp(
            `rollout endpoint ${urls[0]} holds ${remote}@1, but step 1 of run ${stale} samples from the checkpoint of step 0 \\(${stale}@0\\)`,
          ),
        );
        assert.deepEqual(
          await store.list(rolloutKey(stale, 1, '')),
          [],
          'nothing sampled from stale weights',
        );
      } finally {
        await handle.terminate('stale-server check done');
      }
    } finally {
      await workers.stop();
    }
  },
);
