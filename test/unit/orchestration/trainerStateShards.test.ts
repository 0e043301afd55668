import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { OptimizerState } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';
import { writeSafetensors } from '../../../core/model/safetensors.ts';
import {
  checkpointKey,
  LocalFolderStore,
  latestVerifiedCheckpoint,
  objectsFromDirectory,
  putObjectSource,
  writeCheckpoint,
  writeObjectSources,
  type CheckpointObjectSource,
} from '../../../core/store/index.ts';
import { writeModelDir } from '../../../core/model/modelDir.ts';
import { readShardedSafetensors } from '../../../core/model/safetensorsShards.ts';
import { weightsSha256 } from '../../../activities/checkpoint.ts';
import {
  readCheckpointState,
  stateFromWeights,
  storeStateFiles,
  weightsOf,
  withStateFiles,
} from '../../../activities/trainerState.ts';

const config = makeQwen2Config({
  vocabSize: 12,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
});
const scratch = mkdtemp(join(tmpdir(), 'reasonloop-state-shards-'));
after(async () => rm(await scratch, { recursive: true, force: true }));

function trainedState(): OptimizerState {
  const state = stateFromWeights(config, initQwen2Weights(config, 5));
  for (const [name, t] of Object.entries(state.m)) {
    const m = t.data as Float32Array;
    const v = state.v[name].data as Float32Array;
    for (let i = 0; i < m.length; i++) {
      m[i] = Math.fround(Math.cos(i + name.length) * 1e-3);
      v[i] = Math.fround(1e-8 * (i + 1));
    }
  }
  state.step = 9;
  return state;
}

function assertSameState(actual: OptimizerState, expected: OptimizerState): void {
  assert.equal(actual.step, expected.step);
  for (const group of ['params', 'm', 'v'] as const) {
    for (const [name, t] of Object.entries(expected[group])) {
      assert.ok(
        Buffer.from((actual[group][name].data as Float32Array).buffer).equals(
          Buffer.from((t.data as Float32Array).buffer),
        ),
        `${group} ${name}`,
      );
    }
  }
}

/** 2 KB shards: the embedding (768 bytes) and each 2 KB MLP matrix force several shards of both groups. */
const SMALL_SHARDS = { maxShardSize: '2KB' };

describe('trainer state in shards', () => {
  it('weights and optimizer split into shards with HF indexes and read back bit for bit', async () => {
    const state = trainedState();
    const store = new LocalFolderStore(join(await scratch, 'dir-store'));
    const names = await withStateFiles(
      { config },
      state,
      async (objects) => {
        await checkpointOf(store, 'run-d', 2, objects);
        return objects.map((o) => o.name);
      },
      SMALL_SHARDS,
    );
    assert.ok(names.includes('weights/model.safetensors.index.json'), names.join(', '));
    assert.ok(names.includes('optimizer/state.safetensors.index.json'), names.join(', '));
    assert.ok(names.some((n) => /^weights\/model-00001-of-000\d\d\.safetensors$/.test(n)));
    assert.ok(names.some((n) => /^optimizer\/state-00002-of-000\d\d\.safetensors$/.test(n)));
    assert.ok(!names.includes('weights/model.safetensors') && !names.includes('optimizer/state.safetensors'));
    const { manifest } = await latestVerifiedCheckpoint(store, 'run-d');
    assertSameState((await readCheckpointState(store, manifest!)).state, state);
  });

  it('the streamed files are byte for byte the files the folder writer makes', async () => {
    const state = trainedState();
    const out = join(await scratch, 'streamed');
    await withStateFiles({ config }, state, (objects) => writeObjectSources(out, objects), SMALL_SHARDS);
    const folder = join(await scratch, 'folder');
    writeModelDir(join(folder, 'weights'), { config, weights: weightsOf(state) }, SMALL_SHARDS);
    for (const file of await readdir(join(folder, 'weights'))) {
      assert.ok(
        (await readFile(join(out, 'weights', file))).equals(await readFile(join(folder, 'weights', file))),
        file,
      );
    }
    const moments = readShardedSafetensors(join(out, 'optimizer'), 'state');
    for (const [name, t] of Object.entries(state.v)) {
      assert.ok(
        Buffer.from(moments.get(`v.${name}`)!.buffer).equals(Buffer.from((t.data as Float32Array).buffer)),
      );
    }
  });

  it('round-trips through a store: streamed up with sha256s, verified, read back; sharded weights have an identity', async () => {
    const state = trainedState();
    const store = new LocalFolderStore(join(await scratch, 'store'));
    const stored = await withStateFiles(
      { config },
      state,
      async (objects) => {
        const listed = await storeStateFiles(store, 'run-a', 3, objects);
        await writeCheckpoint(store, {
          runId: 'run-a',
          step: 3,
          configHash: 'cfg',
          dataCursor: null,
          rng: null,
          metrics: {},
          objects,
        });
        return listed;
      },
      SMALL_SHARDS,
    );
    const { manifest } = await latestVerifiedCheckpoint(store, 'run-a');
    assert.deepEqual(
      manifest!.objects,
      [...stored].sort((a, b) => (a.name < b.name ? -1 : 1)),
      'storeStateFiles and writeCheckpoint agree on every size and sha256',
    );
    assert.match(weightsSha256(manifest!.objects)!, /^[0-9a-f]{64}$/);
    assertSameState((await readCheckpointState(store, manifest!)).state, state);
  });

  it('a moment whose shape does not match the model is a non-retryable failure naming checkpoint, tensor and shapes', async () => {
    const state = trainedState();
    const store = new LocalFolderStore(join(await scratch, 'bad-store'));
    const dir = join(await scratch, 'bad-files');
    await withStateFiles({ config }, state, (objects) => writeObjectSources(dir, objects));
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, t] of Object.entries(state.m)) {
      const shape = name === 'model.norm.weight' ? [4, 4] : [...t.dims];
      tensors.set(`m.${name}`, { shape, data: t.data as Float32Array });
      tensors.set(`v.${name}`, { shape: [...t.dims], data: state.v[name].data as Float32Array });
    }
    writeSafetensors(join(dir, 'optimizer', 'state.safetensors'), tensors, {
      'reasonloop.optimizer_step': '9',
    });
    await checkpointOf(store, 'run-b', 4, [
      ...(await objectsFromDirectory(join(dir, 'weights'), 'weights')),
      ...(await objectsFromDirectory(join(dir, 'optimizer'), 'optimizer')),
    ]);
    const { manifest } = await latestVerifiedCheckpoint(store, 'run-b');
    await assert.rejects(readCheckpointState(store, manifest!), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.nonRetryable, true);
      assert.equal(error.type, 'TrainerStateError');
      assert.match(
        error.message,
        /^checkpoint 4 of run run-b in file:\/\/.+: state\.safetensors: tensor m\.model\.norm\.weight has shape \[4,4\], expected \[16\]$/,
      );
      return true;
    });
  });

  it('an object changed in the store after its manifest fails the read on its sha256, retryably', async () => {
    const state = trainedState();
    const root = join(await scratch, 'corrupt-store');
    const store = new LocalFolderStore(root);
    await withStateFiles({ config }, state, (objects) => checkpointOf(store, 'run-c', 5, objects));
    const { manifest } = await latestVerifiedCheckpoint(store, 'run-c');
    const key = checkpointKey('run-c', 5, 'optimizer/state.safetensors');
    const path = join(root, ...key.split('/'));
    const bytes = await readFile(path);
    bytes[bytes.length - 1] ^= 1; // same size: only the sha256 can tell
    await writeFile(path, bytes);
    await assert.rejects(readCheckpointState(store, manifest!), (error: unknown) => {
      assert.ok(!(error instanceof ApplicationFailure), 'the store may be catching up: retryable');
      assert.match(
        (error as Error).message,
        /state\.safetensors has \d+ bytes and sha256 [0-9a-f]{64}, the manifest says/,
      );
      return true;
    });
  });

  it('a streamed source that fails is reported as itself, and one that runs short of its size is refused', async () => {
    const store = new LocalFolderStore(join(await scratch, 'source-store'));
    const failing = {
      name: 'optimizer/x.safetensors',
      size: 8,
      open: () =>
        Readable.from(
          (function* () {
            yield new Uint8Array(4);
            throw new Error('tensor m.x could not be read');
          })(),
        ),
    };
    await assert.rejects(putObjectSource(store, 'k/failing', failing), /tensor m\.x could not be read/);
    const short = {
      name: 'optimizer/y.safetensors',
      size: 8,
      open: () => Readable.from([new Uint8Array(4)]),
    };
    await assert.rejects(putObjectSource(store, 'k/short', short), /streamed 4 bytes where 8 were declared/);
  });
});

/** Uploads `objects` as step `step` of `runId` with a manifest. */
async function checkpointOf(
  store: LocalFolderStore,
  runId: string,
  step: number,
  objects: CheckpointObjectSource[],
): Promise<void> {
  await writeCheckpoint(store, {
    runId,
    step,
    configHash: 'cfg',
    dataCursor: null,
    rng: null,
    metrics: {},
    objects,
  });
}
