import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';
import { readCheckpointState, stateFromWeights, withStateFiles } from '../../../activities/trainerState.ts';
import { LocalFolderStore, latestVerifiedCheckpoint, writeCheckpoint } from '../../../core/store/index.ts';
import {
  reverseDigitsPromptIds as taskPromptIds,
  reverseDigitsReward as taskReward,
  reverseDigitsSize as taskSize,
} from '../../../core/task/reverseDigits.ts';
import { shardRange } from '../../../activities/sampleRollouts.ts';
import { temporalStartLine } from '../../../client/commandLine.ts';
import { formatStatus, progressBar } from '../../../client/runs.ts';

describe('trainer state files', () => {
  it('read back bit for bit: weights, both AdamW moments and the step count', async () => {
    const config = makeQwen2Config({
      vocabSize: 12,
      hiddenSize: 16,
      intermediateSize: 32,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
    });
    const state = stateFromWeights(config, initQwen2Weights(config, 3));
    for (const [name, t] of Object.entries(state.m)) {
      const m = t.data as Float32Array;
      const v = state.v[name].data as Float32Array;
      for (let i = 0; i < m.length; i++) {
        m[i] = Math.fround(Math.sin(i + 1) * 1e-3);
        v[i] = Math.fround(1e-7 / (i + 1));
      }
    }
    state.step = 17;
    const store = new LocalFolderStore(await mkdtemp(join(tmpdir(), 'reasonloop-state-test-')));
    await withStateFiles({ config }, state, async (objects) => {
      assert.deepEqual(
        objects.map((o) => o.name),
        [
          'weights/config.json',
          'weights/generation_config.json',
          'weights/model.safetensors',
          'optimizer/state.safetensors',
        ],
      );
      await writeCheckpoint(store, {
        runId: 'run-s',
        step: 17,
        configHash: 'cfg',
        dataCursor: null,
        rng: null,
        metrics: {},
        objects,
      });
    });
    const { manifest } = await latestVerifiedCheckpoint(store, 'run-s');
    const back = await readCheckpointState(store, manifest!);
    assert.equal(back.state.step, 17);
    for (const group of ['params', 'm', 'v'] as const) {
      for (const [name, t] of Object.entries(state[group])) {
        assert.deepEqual(
          Buffer.from((back.state[group][name].data as Float32Array).buffer),
          Buffer.from((t.data as Float32Array).buffer),
          `${group} ${name}`,
        );
      }
    }
  });
});

describe('reverseDigits task', () => {
  const task = { kind: 'reverseDigits' as const, digits: 2, separatorToken: 10, eosToken: 11 };
  it('problem i is i in base 10 with leading zeros, then the separator', () => {
    assert.equal(taskSize(task), 100);
    assert.deepEqual(taskPromptIds(task, 7), [0, 7, 10]);
    assert.deepEqual(taskPromptIds(task, 42), [4, 2, 10]);
  });
  it('rewards the fraction of the reversed digits and EOS reproduced in place', () => {
    assert.equal(taskReward(task, 42, [2, 4, 11]), 1);
    assert.equal(taskReward(task, 42, [2, 4]), 2 / 3);
    assert.equal(taskReward(task, 42, [4, 2, 11]), 1 / 3);
    assert.equal(taskReward(task, 42, []), 0);
  });
});

describe('orchestration helpers', () => {
  it('shards cover the prompts once, in order', () => {
    const ranges = [0, 1, 2].map((s) => shardRange(8, 3, s));
    assert.deepEqual(ranges, [
      [0, 2],
      [2, 5],
      [5, 8],
    ]);
  });
  it('prints progress and the temporal CLI line', () => {
    assert.equal(progressBar(3, 10, 10), '[###.......] 3/10');
    assert.equal(
      temporalStartLine('r1', 'my run.json'),
      "temporal workflow start --type rlTraining --task-queue reasonloop --workflow-id r1 --input-file 'my run.json'",
    );
    assert.equal(
      formatStatus({
        runId: 'r1',
        step: 2,
        totalSteps: 4,
        phase: 'paused',
        paused: true,
        stopRequested: false,
        stepsThisRun: 2,
        lastMetrics: { meanTaskReward: 0.25, loss: 0.123456, approxKl: 1 },
        rejectedCheckpoints: [],
      }),
      'r1 [##########..........] 2/4 paused (paused)  meanTaskReward=0.2500 loss=0.1235',
    );
    const base = {
      lr: 1e-3,
      klCoef: 0.001,
      entropyCoef: 0,
      clipLow: 0.2,
      clipHigh: 0.2,
      temperature: 1,
      topP: 1,
    };
    assert.equal(
      formatStatus({
        runId: 'r1',
        step: 3,
        totalSteps: 4,
        phase: 'sampling',
        paused: false,
        stopRequested: false,
        stepsThisRun: 1,
        lastMetrics: {},
        rejectedCheckpoints: [],
        hyperParameters: { effective: { ...base, lr: 2e-4 }, overrides: { lr: 2e-4 } },
      }),
      'r1 [###############.....] 3/4 sampling  set: lr=0.0002',
    );
  });
});
