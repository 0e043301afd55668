/**
 * `reasonloop eval --endpoint` through the stack: a tiny run trains two steps, `reasonloop serve` serves its
 * checkpoint, and the `evaluation` workflow evaluates it once from the store (model.checkpoint) and once
 * through the server (--endpoint); both give the same records, response by response, and the same accuracy,
 * greedy and sampled.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { EvaluationRecord, EvaluationSummary } from '../../../core/metrics/evaluation.ts';
import { loadPolicyCheckpoint } from '../../../core/serve/policy.ts';
import { ServeApp } from '../../../core/serve/server.ts';
import {
  latestVerifiedCheckpoint,
  openStore,
  restoreCheckpointObjects,
  WEIGHTS_GROUP,
} from '../../../core/store/index.ts';
import { capture } from '../../unit/cli/capture.ts';
import {
  runWorkers,
  startHarness,
  tempStoreDir,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from './harness.ts';

const TEST_TIMEOUT_MS = 300_000;

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

it(
  'eval --endpoint against reasonloop serve: the records and accuracy of eval on the checkpoint',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const queues = uniqueQueues('eval-endpoint');
    const runId = `eval-endpoint-${Date.now().toString(36)}`;
    const storeUrl = tempStoreDir();
    const config = tinyRunConfig(runId, storeUrl, queues, { steps: 2 });
    const workers = await runWorkers(h, queues);
    const work = mkdtempSync(join(tmpdir(), 'eval-endpoint-'));
    let app: ServeApp | undefined;
    try {
      await h.client.workflow.execute('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: runId,
        args: [config],
      });
      const store = openStore(storeUrl);
      const { manifest } = await latestVerifiedCheckpoint(store, runId, { allowPruned: true });
      assert.equal(manifest?.step, 2);
      // The served model's config.json, for the evaluation's tokenizer field (this task has no tokenizer).
      const modelDir = join(work, 'model');
      await restoreCheckpointObjects(store, manifest!, `${WEIGHTS_GROUP}/`, modelDir);
      app = new ServeApp(await loadPolicyCheckpoint(store, runId, undefined, {}), {
        modelName: runId,
        maxBatch: 64,
        maxQueue: 256,
        kvBudgetBytes: 1 << 26,
        load: () => Promise.reject(new Error('no loads here')),
      });
      const { port } = await app.listen(0, '127.0.0.1');
      const url = `http://127.0.0.1:${port}/v1`;

      for (const [name, sampling] of [
        ['greedy', { temperature: 0, maxNewTokens: 3 }],
        ['sampled', { temperature: 1, samples: 4, maxNewTokens: 3 }],
      ] as const) {
        const file = join(work, `${name}.json`);
        writeFileSync(
          file,
          JSON.stringify({
            evalId: `${runId}-${name}`,
            model: { checkpoint: { runId } },
            task: config.task,
            sampling,
            limit: 12,
            store: { url: storeUrl },
            orchestration: { taskQueue: queues.rollout },
          }),
        );
        const evaluate = async (extra: string[]) => {
          const r = await capture([
            'eval',
            '--config',
            file,
            '--task-queue',
            queues.workflow,
            '--wait',
            '--json',
            ...extra,
          ]);
          assert.equal(r.code, 0, r.err);
          const summary = JSON.parse(r.out.split('\n').at(-1)!) as EvaluationSummary;
          const records = JSON.parse(
            new TextDecoder().decode(await store.get(summary.key)),
          ) as EvaluationRecord[];
          return { summary, records };
        };
        const local = await evaluate([]);
        const remote = await evaluate(['--endpoint', url, '--model', runId, '--tokenizer', modelDir]);
        assert.equal(local.summary.model, `checkpoint:${runId}@2`);
        assert.equal(remote.summary.model, `endpoint:${runId}@${url}`);
        assert.equal(remote.records.length, 12 * (name === 'sampled' ? 4 : 1));
        assert.deepEqual(remote.records, local.records, name);
        assert.equal(remote.summary.accuracy, local.summary.accuracy);
        assert.deepEqual(remote.summary.metrics, local.summary.metrics);
      }
    } finally {
      await app?.close();
      await workers.stop();
      rmSync(work, { recursive: true, force: true });
    }
  },
);
