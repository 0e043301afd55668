import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADVANTAGE_ESTIMATOR_NAMES, advantageEstimators } from '../../../core/rl/advantages.ts';
import { LOSS_AGG_MODES } from '../../../core/rl/aggregation.ts';
import { KL_ESTIMATOR_NAMES, klEstimators } from '../../../core/rl/kl.ts';
import { advantageConfigSchema, klConfigSchema, parseRlAlgorithmConfig } from '../../../core/config/rl.ts';

test('an empty section gives the STILL-3 1.5B recipe (DESIGN §6)', () => {
  const c = parseRlAlgorithmConfig({});
  assert.deepEqual(c.advantage, { estimator: 'grpo', epsilon: 1e-8 });
  assert.deepEqual(c.kl, {
    estimator: 'k1',
    placement: 'reward',
    coef: 0.001,
    schedule: 'constant',
    annealSteps: 500,
    refreshReferenceEvery: 0,
  });
  assert.deepEqual(c.clip, { low: 0.2, high: 0.2 });
  assert.equal(c.lossAgg, 'seq-mean-token-mean');
  assert.equal(c.entropyCoef, 0);
  assert.equal(c.epochs, 1);
  assert.equal(c.miniBatchSize, 512);
  assert.equal(c.optimizer.lr, 2e-6);
  assert.deepEqual(c.optimizer.betas, [0.9, 0.999]);
  assert.deepEqual(parseRlAlgorithmConfig(undefined), c);
});

test('the STILL-3 Zero-run settings parse', () => {
  const c = parseRlAlgorithmConfig({
    kl: { estimator: 'k3', placement: 'loss', coef: 1e-3, schedule: 'cosine', annealSteps: 500 },
    lossAgg: 'token-mean',
    miniBatchSize: 1024,
    microBatchSize: 16,
  });
  assert.equal(c.kl.estimator, 'k3');
  assert.equal(c.kl.placement, 'loss');
  assert.equal(c.advantage.estimator, 'grpo');
});

test('enum values are exactly the registry keys', () => {
  assert.deepEqual(
    [...advantageConfigSchema.shape.estimator.unwrap().options].sort(),
    Object.keys(advantageEstimators).sort(),
  );
  assert.deepEqual(
    [...advantageConfigSchema.shape.estimator.unwrap().options],
    [...ADVANTAGE_ESTIMATOR_NAMES],
  );
  assert.deepEqual(
    [...klConfigSchema.shape.estimator.unwrap().options].sort(),
    Object.keys(klEstimators).sort(),
  );
  assert.deepEqual([...klConfigSchema.shape.estimator.unwrap().options], [...KL_ESTIMATOR_NAMES]);
  for (const mode of LOSS_AGG_MODES) assert.equal(parseRlAlgorithmConfig({ lossAgg: mode }).lossAgg, mode);
});

test('errors name the field path and the value given, every problem at once', () => {
  assert.throws(
    () =>
      parseRlAlgorithmConfig({
        clip: { low: 1.5 },
        kl: { coef: -1, estimator: 'k4' },
        epochs: 0,
        optimizer: { betas: [0.9] },
      }),
    (error: Error) => {
      const lines = error.message.split('\n');
      assert.equal(lines[0], 'invalid algorithm:');
      const text = error.message;
      assert.match(text, /algorithm\.clip\.low must be a number in \[0, 1\) \(got 1\.5\)/);
      assert.match(text, /algorithm\.kl\.coef must be a number ≥ 0 \(got -1\)/);
      assert.match(text, /algorithm\.kl\.estimator must be one of "k1", "k2", "k3" \(got "k4"\)/);
      assert.match(text, /algorithm\.epochs must be a positive integer \(got 0\)/);
      assert.match(text, /algorithm\.optimizer\.betas/);
      return true;
    },
  );
});

test('unknown keys are rejected at every level (strict objects)', () => {
  assert.throws(() => parseRlAlgorithmConfig({ klCoef: 0.1 }), /algorithm has unknown key "klCoef"/);
  assert.throws(() => parseRlAlgorithmConfig({ clip: { lo: 0.1 } }), /algorithm\.clip has unknown key "lo"/);
  assert.throws(
    () => parseRlAlgorithmConfig({ optimizer: { lr: 1e-6, beta1: 0.9 } }, 'run.algorithm'),
    /run\.algorithm\.optimizer has unknown key "beta1"/,
  );
});

test('cross-field rules: micro-batch divides mini-batch; baselineDecay only for reinforceBaseline', () => {
  assert.throws(
    () => parseRlAlgorithmConfig({ miniBatchSize: 64, microBatchSize: 6 }),
    /algorithm\.microBatchSize must divide miniBatchSize \(64\) \(got 6\)/,
  );
  assert.throws(
    () => parseRlAlgorithmConfig({ advantage: { baselineDecay: 0.9 } }),
    /only applies to estimator "reinforceBaseline"/,
  );
  assert.equal(
    parseRlAlgorithmConfig({ advantage: { estimator: 'reinforceBaseline', baselineDecay: 0.9 } }).advantage
      .baselineDecay,
    0.9,
  );
  assert.throws(
    () => parseRlAlgorithmConfig({ clip: { dualClip: 1 } }),
    /algorithm\.clip\.dualClip must be a number > 1 \(got 1\)/,
  );
});
