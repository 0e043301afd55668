import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { makeQwen2Config, qwen2ConfigToJsonText } from '../../../core/model/config.ts';
import { loadModelDir } from '../../../core/model/modelDir.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';
import { writeTestModelDir } from '../../../core/model/testModelDir.ts';
import { sha256OfStream, type CheckpointObjectSource } from '../../../core/store/index.ts';
import { withInitialParameters } from '../../../activities/initialParameters.ts';
import { stateFromWeights, withInitialStateFiles, withStateFiles } from '../../../activities/trainerState.ts';
import { FAILURE } from '../../../activities/failures.ts';
import { TINY_DIGITS_QWEN2 } from './configFixtures.ts';

const config = makeQwen2Config({
  vocabSize: 12,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
});
const scratch = mkdtemp(join(tmpdir(), 'reasonloop-initial-state-'));
after(async () => rm(await scratch, { recursive: true, force: true }));

/** Every object's sha256, whatever its kind of source: what would be stored. */
async function digests(objects: CheckpointObjectSource[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const o of objects) {
    const bytes = 'bytes' in o ? Readable.from([o.bytes]) : 'file' in o ? createReadStream(o.file) : o.open();
    out[o.name] = (await sha256OfStream(bytes)).sha256;
  }
  return out;
}

const store = { url: 'file:///nowhere' };

describe('step 0 streamed from the model source', () => {
  for (const maxShardSize of [undefined, 2_000]) {
    it(`writes the bytes the in-memory state writes (max shard size ${maxShardSize ?? 'default'})`, async () => {
      const dir = join(await scratch, `model-${maxShardSize}`);
      writeTestModelDir(dir, config, { seed: 3, maxShardSize: 1_500 });
      const model = loadModelDir(dir);
      const options = maxShardSize ? { maxShardSize } : {};
      const expected = await withStateFiles(
        model,
        stateFromWeights(model.config, model.weights),
        digests,
        options,
      );
      const streamed = await withInitialParameters({ model: { dir }, store }, (base, read) =>
        withInitialStateFiles(base, read, digests, options),
      );
      assert.deepEqual(streamed, expected);
      if (maxShardSize)
        assert.ok(
          Object.keys(expected).some((n) => n.endsWith('.index.json')),
          'sharded',
        );
    });
  }

  it('makes model.init tensors as they are written, the same as the whole model', async () => {
    const init = { config: TINY_DIGITS_QWEN2, seed: 7 };
    const source = { model: { init }, store } as unknown as Parameters<typeof withInitialParameters>[0];
    const streamed = await withInitialParameters(source, (base, read) =>
      withInitialStateFiles(base, read, digests),
    );
    const whole = makeQwen2Config({ ...init.config });
    const expected = await withStateFiles(
      { config: whole },
      stateFromWeights(whole, initQwen2Weights(whole, init.seed)),
      digests,
    );
    assert.deepEqual(streamed, expected);
  });

  it('refuses a model dir whose tensors do not fit its config.json, before writing, as a config error', async () => {
    const dir = join(await scratch, 'wrong');
    writeTestModelDir(dir, config, { seed: 3 });
    await writeFile(join(dir, 'config.json'), qwen2ConfigToJsonText({ ...config, hiddenSize: 32 }));
    let wrote = false;
    await assert.rejects(
      withInitialParameters({ model: { dir }, store }, async () => {
        wrote = true;
      }),
      (error: unknown) =>
        error instanceof ApplicationFailure &&
        error.type === FAILURE.config &&
        error.nonRetryable &&
        error.message.includes(`model.dir ${dir}`) &&
        /shape/.test(error.message),
    );
    assert.equal(wrote, false);
  });
});
