/**
 * The checkpoint activity deletes a step's rollouts once the step's checkpoint verifies: idempotent (a
 * retried checkpoint finds them gone), kept with orchestration.keepRollouts, kept when the checkpoint does
 * not verify, and never another step's. Against the local folder store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkpoint, deleteStepRollouts, WEIGHTS_OBJECT } from '../../../activities/checkpoint.ts';
import { rolloutKey } from '../../../activities/runtime.ts';
import type { RawRunConfig, StoredObject } from '../../../activities/types.ts';
import { parseRunConfig } from '../../../core/config/run.ts';
import { checkpointKey, LocalFolderStore, sha256Hex, verifyCheckpoint } from '../../../core/store/index.ts';

const ROOT = mkdtempSync(join(tmpdir(), 'checkpoint-rollouts-'));
after(() => rmSync(ROOT, { recursive: true, force: true }));

let runs = 0;

function runConfig(keepRollouts?: boolean): RawRunConfig {
  return {
    runId: `ckpt-rollouts-${++runs}`,
    seed: 1,
    steps: 3,
    model: {
      init: {
        seed: 0,
        config: {
          vocabSize: 12,
          hiddenSize: 16,
          intermediateSize: 32,
          numHiddenLayers: 1,
          numAttentionHeads: 2,
          maxPositionEmbeddings: 32,
        },
      },
    },
    rollout: { promptsPerStep: 4, n: 4 },
    algorithm: { miniBatchSize: 16, microBatchSize: 16 },
    store: { url: join(ROOT, `store-${runs}`) },
    ...(keepRollouts === undefined ? {} : { orchestration: { keepRollouts } }),
  };
}

const encode = (text: string) => new TextEncoder().encode(text);

/** What updatePolicy leaves under a step's prefix (the bytes do not matter, their sha256 does). */
async function writeUpdateObjects(
  store: LocalFolderStore,
  runId: string,
  step: number,
  corrupt = false,
): Promise<StoredObject[]> {
  const objects: StoredObject[] = [];
  for (const [name, text] of [
    [WEIGHTS_OBJECT, `weights of step ${step}`],
    ['optimizer/state.safetensors', `optimizer of step ${step}`],
  ]) {
    const bytes = encode(text);
    objects.push({ name, size: bytes.byteLength, sha256: sha256Hex(bytes) });
    // Same size, other bytes: the size check passes, the sha256 check does not.
    const stored = corrupt && name === WEIGHTS_OBJECT ? encode(text.toUpperCase()) : bytes;
    await store.put(checkpointKey(runId, step, name), stored);
  }
  return objects;
}

/** What sampleRollouts (two shards) and scoreRollouts leave for a step. */
async function writeRollouts(store: LocalFolderStore, runId: string, step: number): Promise<string[]> {
  const keys = ['shard-0000.json', 'shard-0001.json', 'scored.json'].map((n) => rolloutKey(runId, step, n));
  for (const key of keys) await store.put(key, encode('[]'));
  return keys;
}

async function existing(store: LocalFolderStore, keys: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const key of keys) if (await store.exists(key)) found.push(key);
  return found;
}

async function commit(raw: RawRunConfig, step: number, objects: StoredObject[]) {
  return checkpoint({
    config: raw,
    step,
    objects,
    cursor: { epoch: 0, position: step * 8, seed: 1 },
    metrics: { meanReward: 0.5 },
  });
}

describe('checkpoint deletes the step rollouts', () => {
  it('once the checkpoint verifies, only that step, and a retry does not fail', async () => {
    const raw = runConfig();
    const store = new LocalFolderStore(raw.store.url);
    const step1 = await writeRollouts(store, raw.runId, 1);
    const step2 = await writeRollouts(store, raw.runId, 2);
    const objects = await writeUpdateObjects(store, raw.runId, 1);

    const saved = await commit(raw, 1, objects);
    assert.equal(saved.weightsSha256, objects[0].sha256);
    assert.ok('manifest' in (await verifyCheckpoint(store, raw.runId, 1)), 'the checkpoint counts');
    assert.deepEqual(await existing(store, step1), [], "step 1's rollouts are gone");
    assert.deepEqual(await existing(store, step2), step2, "step 2's rollouts are untouched");

    // A retried attempt (the worker died after the delete, before reporting) rewrites the same manifest.
    const again = await commit(raw, 1, objects);
    // The same checkpoint (only the activity's own timing differs between attempts).
    assert.deepEqual({ ...again, seconds: 0 }, { ...saved, seconds: 0 });
    assert.ok('manifest' in (await verifyCheckpoint(store, raw.runId, 1)));
  });

  it('keeps them with orchestration.keepRollouts', async () => {
    const raw = runConfig(true);
    const store = new LocalFolderStore(raw.store.url);
    const keys = await writeRollouts(store, raw.runId, 1);
    await commit(raw, 1, await writeUpdateObjects(store, raw.runId, 1));
    assert.deepEqual(await existing(store, keys), keys);
  });

  it('keeps them when the checkpoint does not verify', async () => {
    const raw = runConfig();
    const store = new LocalFolderStore(raw.store.url);
    const keys = await writeRollouts(store, raw.runId, 1);
    await commit(raw, 1, await writeUpdateObjects(store, raw.runId, 1, true));
    const result = await verifyCheckpoint(store, raw.runId, 1);
    assert.match('problem' in result ? result.problem : '', /weights\/model\.safetensors has sha256/);
    assert.deepEqual(await existing(store, keys), keys);
  });

  it('deleteStepRollouts: a step with nothing left is no error', async () => {
    const store = new LocalFolderStore(join(ROOT, 'empty'));
    assert.equal(await deleteStepRollouts(store, 'none', 4), 0);
  });
});

describe('orchestration.keepRollouts', () => {
  it('defaults to false; a non-boolean is named', () => {
    assert.equal(parseRunConfig(runConfig()).orchestration.keepRollouts, false);
    assert.equal(parseRunConfig(runConfig(true)).orchestration.keepRollouts, true);
    const bad = { ...runConfig(), orchestration: { keepRollouts: 'yes' } };
    assert.throws(
      () => parseRunConfig(bad),
      /run\.orchestration\.keepRollouts must be true or false \(got "yes"\)/,
    );
    const typo = { ...runConfig(), orchestration: { keepRollout: true } };
    assert.throws(() => parseRunConfig(typo), /run\.orchestration: unknown key "keepRollout"/);
  });
});
