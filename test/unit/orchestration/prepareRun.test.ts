/**
 * prepareRun outside Temporal (it is a plain async function): the step-0 checkpoint of a run from an HF
 * model directory, and the resume decisions on a local store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { prepareRun } from '../../../activities/prepareRun.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { loadModelDir, writeModelDir } from '../../../core/model/modelDir.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';
import { buildTinyTokenizer } from '../../../core/model/tinyTokenizer.ts';
import { latestVerifiedCheckpoint, openStore, restoreCheckpointObjects } from '../../../core/store/index.ts';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'reasonloop-prepare-'));
}

function runConfig(modelDir: string, storeDir: string, steps = 2) {
  return {
    runId: 'from-dir',
    seed: 3,
    steps,
    model: { dir: modelDir },
    rollout: { promptsPerStep: 2, n: 2, maxNewTokens: 3 },
    algorithm: { miniBatchSize: 4, microBatchSize: 4 },
    store: { url: storeDir },
  };
}

describe('prepareRun', () => {
  it('starts a run from an HF model directory: its step-0 checkpoint is that model, tokenizer included', async () => {
    const config = makeQwen2Config({
      vocabSize: 300,
      hiddenSize: 16,
      intermediateSize: 32,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
    });
    const modelDir = tempDir();
    const weights = initQwen2Weights(config, 5);
    writeModelDir(modelDir, { config, weights, tokenizer: buildTinyTokenizer() });
    const storeDir = tempDir();
    const plan = await prepareRun(runConfig(modelDir, storeDir));
    assert.equal(plan.checkpointStep, 0);
    assert.deepEqual(plan.cursor, { epoch: 0, position: 0, seed: 3 });

    const store = openStore(storeDir);
    const { manifest } = await latestVerifiedCheckpoint(store, 'from-dir');
    const out = tempDir();
    await restoreCheckpointObjects(store, manifest!, 'weights/', out);
    const back = loadModelDir(out, { requireTokenizer: true });
    for (const [name, data] of weights) assert.deepEqual(back.weights.get(name), data, name);

    // Starting it again finds the same checkpoint; a run of 0 steps is a config error.
    assert.equal((await prepareRun(runConfig(modelDir, storeDir))).checkpointStep, 0);
    await assert.rejects(
      prepareRun(runConfig(modelDir, storeDir, 0)),
      /run\.steps must be a positive integer/,
    );
  });

  it('refuses to resume a run with a different config, naming both hashes', async () => {
    const storeDir = tempDir();
    const modelDir = tempDir();
    const config = makeQwen2Config({
      vocabSize: 12,
      hiddenSize: 16,
      intermediateSize: 32,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
    });
    writeModelDir(modelDir, { config, weights: initQwen2Weights(config, 1) });
    await prepareRun(runConfig(modelDir, storeDir));
    await assert.rejects(prepareRun({ ...runConfig(modelDir, storeDir), seed: 4 }), (error: Error) => {
      assert.match(
        error.message,
        /checkpoint 0 was written with a different config \(hash [0-9a-f]{64}, this config [0-9a-f]{64}\)/,
      );
      assert.equal((error as { type?: string }).type, 'ResumeError');
      assert.equal((error as { nonRetryable?: boolean }).nonRetryable, true);
      return true;
    });
  });

  it('a start that fails on bad data writes no checkpoint, and the fixed config then starts cleanly', async () => {
    const config = makeQwen2Config({
      vocabSize: 300,
      hiddenSize: 16,
      intermediateSize: 32,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
    });
    const modelDir = tempDir();
    writeModelDir(modelDir, {
      config,
      weights: initQwen2Weights(config, 2),
      tokenizer: buildTinyTokenizer(),
    });
    const storeDir = tempDir();
    const dataDir = tempDir();
    const data = join(dataDir, 'problems.jsonl');
    writeFileSync(data, '{"question":"1+1?","answer":"2"}\n');
    const raw = {
      ...runConfig(modelDir, storeDir),
      runId: 'bad-data',
      task: {
        kind: 'math' as const,
        data: { source: 'file' as const, path: data, answerField: 'answer' },
        prompt: { template: 'plain' as const },
      },
    };
    await assert.rejects(prepareRun(raw), (error: Error) => {
      assert.match(error.message, /problem/);
      assert.equal((error as { nonRetryable?: boolean }).nonRetryable, true);
      return true;
    });
    assert.deepEqual(await openStore(storeDir).list('runs/bad-data/'), [], 'nothing written');
    writeFileSync(data, '{"problem":"1+1?","answer":"2"}\n');
    // The same config (same run id, same path), the file fixed: no "different config" refusal.
    const plan = await prepareRun(raw);
    assert.equal(plan.checkpointStep, 0);
  });
});
