/**
 * evaluateModel against `reasonloop serve` (model.endpoint) gives the records — every response, verdict and
 * reward — and so the accuracy of evaluateModel on the same model directory in process, greedy and sampled.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { evaluateModel } from '../../../activities/evaluateModel.ts';
import type { EvaluationRecord, EvaluationSummary } from '../../../core/metrics/evaluation.ts';
import { loadPolicyDir } from '../../../core/serve/policy.ts';
import { ServeApp } from '../../../core/serve/server.ts';
import { openStore } from '../../../core/store/index.ts';
import { writeFileSync } from 'node:fs';
import { capture } from '../cli/capture.ts';

const MODEL = fileURLToPath(new URL('../../fixtures/qwen2/untied/', import.meta.url));
const storeDir = mkdtempSync(join(tmpdir(), 'eval-endpoint-'));
after(() => rmSync(storeDir, { recursive: true, force: true }));
const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

const base = {
  task: {
    kind: 'math',
    data: {
      source: 'synthetic',
      task: { kind: 'arithmetic', knobs: { digits: 1, terms: 2, ops: ['+'] } },
      size: 6,
      seed: 2,
    },
    prompt: { template: 'plain' },
  },
  limit: 6,
  store: { url: storeDir },
};

async function records(summary: EvaluationSummary): Promise<Omit<EvaluationRecord, never>[]> {
  return JSON.parse(new TextDecoder().decode(await openStore(storeDir).get(summary.key)));
}

test('model.endpoint: the same records and accuracy as the model directory in process', async () => {
  const app = new ServeApp(await loadPolicyDir(MODEL, {}), {
    modelName: 'toy',
    maxBatch: 16,
    maxQueue: 64,
    kvBudgetBytes: 1 << 26,
    load: () => Promise.reject(new Error('no loads here')),
  });
  try {
    const { port } = await app.listen(0, '127.0.0.1');
    const endpoint = { url: `http://127.0.0.1:${port}/v1`, model: 'toy', tokenizer: MODEL };
    for (const sampling of [
      { temperature: 0, maxNewTokens: 10 },
      { temperature: 1, samples: 3, maxNewTokens: 10 },
    ]) {
      const local = (await env.run(evaluateModel, {
        ...base,
        evalId: 'local',
        sampling,
        model: { dir: MODEL },
      })) as EvaluationSummary;
      const remote = (await env.run(evaluateModel, {
        ...base,
        evalId: 'remote',
        sampling,
        model: { endpoint },
      })) as EvaluationSummary;
      assert.equal(remote.model, `endpoint:toy@${endpoint.url}`);
      assert.equal((await records(local)).length, 6 * (sampling.samples ?? 1));
      assert.deepEqual(await records(remote), await records(local));
      assert.equal(remote.accuracy, local.accuracy);
      assert.deepEqual(remote.metrics, local.metrics);
    }

    // `reasonloop eval --endpoint … --check`: the config's model replaced, the server asked what it serves.
    const file = join(storeDir, 'eval.json');
    writeFileSync(file, JSON.stringify({ ...base, evalId: 'cli', model: { dir: MODEL } }));
    const ok = await capture([
      'eval',
      '--config',
      file,
      '--endpoint',
      endpoint.url,
      '--model',
      'toy',
      '--check',
    ]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(
      ok.out,
      /model\.endpoint \{"endpoint":\{"url":"http:\/\/127\.0\.0\.1:\d+\/v1","model":"toy"/,
    );
    const wrong = await capture([
      'eval',
      '--config',
      file,
      '--endpoint',
      endpoint.url,
      '--model',
      'other',
      '--check',
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /evaluation\.model\.endpoint http:\S+: serves toy, not other/);
    const alone = await capture(['eval', '--config', file, '--endpoint', endpoint.url]);
    assert.equal(alone.code, 2);
    assert.match(alone.err, /--endpoint and --model go together/);
  } finally {
    await app.close();
  }
});
