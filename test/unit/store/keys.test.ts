import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  checkpointKey,
  manifestKey,
  objectGroup,
  parseCheckpointKey,
  stepPrefix,
} from '../../../core/store/index.ts';

it('checkpointKey lays out runs/<runId>/steps/<6-digit step>/<name>', () => {
  assert.equal(
    checkpointKey('r1', 12, 'weights/model.safetensors'),
    'runs/r1/steps/000012/weights/model.safetensors',
  );
  assert.equal(manifestKey('r1', 0), 'runs/r1/steps/000000/manifest.json');
  assert.equal(stepPrefix('r1', 1234567), 'runs/r1/steps/1234567/');
});

it('parseCheckpointKey inverts checkpointKey and ignores keys of other runs', () => {
  assert.deepEqual(parseCheckpointKey('r1', checkpointKey('r1', 12, 'optimizer/a.bin')), {
    step: 12,
    name: 'optimizer/a.bin',
  });
  assert.deepEqual(parseCheckpointKey('r1', 'runs/r1/steps/1234567/manifest.json'), {
    step: 1234567,
    name: 'manifest.json',
  });
  assert.equal(parseCheckpointKey('r1', 'runs/r10/steps/000001/x'), undefined);
  assert.equal(parseCheckpointKey('r1', 'runs/r1/steps/abc/x'), undefined);
  assert.equal(parseCheckpointKey('r1', 'runs/r1/steps/000001/'), undefined);
});

it('rejects run ids and steps that cannot be one key segment', () => {
  assert.throws(() => checkpointKey('a/b', 1, 'x'), /run id must be .* \(got "a\/b"\)/);
  assert.throws(() => checkpointKey('', 1, 'x'), /run id/);
  assert.throws(
    () => checkpointKey('r', -4, 'x'),
    /checkpoint step must be a non-negative integer \(got -4\)/,
  );
  assert.throws(() => checkpointKey('r', 1.5, 'x'), /got 1\.5/);
});

it('objectGroup is the first segment of an object name', () => {
  assert.equal(objectGroup('weights/model.safetensors'), 'weights');
  assert.equal(objectGroup('rng.json'), 'rng.json');
});
