import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  baseHyperParameters,
  effectiveHyperParameters,
  HYPER_PARAMETER_NAMES,
  HyperParameterError,
  hyperParameterMetrics,
  hyperParametersFromMetrics,
  mergeHyperParameters,
  parseHyperParameters,
  withHyperParameters,
} from '../../../core/config/hyperParameters.ts';
import { parseRunConfig, runIdentity, type RunConfigInput } from '../../../core/config/run.ts';
import { TINY_QWEN2 } from '../orchestration/configFixtures.ts';

const RAW: RunConfigInput = {
  runId: 'hp',
  seed: 1,
  steps: 3,
  model: {
    init: {
      seed: 0,
      config: TINY_QWEN2,
    },
  },
  rollout: { promptsPerStep: 4, n: 4, maxNewTokens: 3 },
  algorithm: { miniBatchSize: 16, microBatchSize: 8, optimizer: { lr: 1e-3 } },
  store: { url: '/tmp/unused-store' },
};

function problems(raw: unknown): string[] {
  try {
    parseHyperParameters(raw);
    return [];
  } catch (error) {
    assert.ok(error instanceof HyperParameterError, String(error));
    return error.issues;
  }
}

describe('setHyperParameters argument', () => {
  it('accepts any subset of the known hyper-parameters', () => {
    assert.deepEqual(parseHyperParameters({ lr: 1e-6, klCoef: 0.001 }), { lr: 1e-6, klCoef: 0.001 });
    assert.deepEqual(parseHyperParameters({ temperature: 1.2, topP: 0.95, clipHigh: 0.28 }), {
      temperature: 1.2,
      topP: 0.95,
      clipHigh: 0.28,
    });
  });

  it('refuses a bad value naming the field and the value', () => {
    assert.deepEqual(problems({ lr: -1 }), ['lr must be a number > 0 (got -1)']);
    assert.deepEqual(problems({ klCoef: -0.5 }), ['klCoef must be a number ≥ 0 (got -0.5)']);
    assert.deepEqual(problems({ clipLow: 1.5 }), ['clipLow must be a number in [0, 1) (got 1.5)']);
    assert.deepEqual(problems({ topP: 0 }), ['topP must be a number in (0, 1] (got 0)']);
    assert.deepEqual(problems({ temperature: '1.0' }), ['temperature must be a number > 0 (got "1.0")']);
    assert.equal(problems({ lr: -1, entropyCoef: -2 }).length, 2);
  });

  it('refuses unknown keys and an empty update', () => {
    assert.match(
      problems({ lr: 1e-6, learningRate: 1 })[0],
      /^unknown hyper-parameter "learningRate" \(one of lr, /,
    );
    assert.match(problems({})[0], /^set at least one of lr, klCoef/);
    assert.match(problems(null)[0], /^hyper-parameters /);
  });

  it('keeps the run config rules: a value is accepted iff the run config accepts it at its path', () => {
    const samples: unknown[] = [
      -1,
      0,
      1e-9,
      0.2,
      0.999,
      1,
      1.5,
      3,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '1',
    ];
    // The cross-field rule clip.low ≤ clip.high is checked on the effective values (the workflow's
    // validator); a base clip of [0, 5] keeps it out of this per-field comparison.
    const base = { ...RAW, algorithm: { ...RAW.algorithm, clip: { low: 0, high: 5 } } };
    for (const name of HYPER_PARAMETER_NAMES) {
      for (const value of samples) {
        const ours = problems({ [name]: value }).length === 0;
        let theirs = true;
        try {
          parseRunConfig(withHyperParameters(base, { [name]: value } as never));
        } catch {
          theirs = false;
        }
        assert.equal(ours, theirs, `${name} = ${String(value)}: update ${ours}, run config ${theirs}`);
      }
    }
  });
});

describe('applying overrides', () => {
  it('writes each override at its config path without touching the given config', () => {
    const before = JSON.stringify(RAW);
    const out = withHyperParameters(RAW, {
      lr: 5e-4,
      klCoef: 0.01,
      temperature: 0.7,
      topP: 0.9,
      clipLow: 0.1,
    });
    assert.equal(JSON.stringify(RAW), before);
    const parsed = parseRunConfig(out);
    assert.equal(parsed.algorithm.optimizer.lr, 5e-4);
    assert.equal(parsed.algorithm.kl.coef, 0.01);
    assert.equal(parsed.algorithm.clip.low, 0.1);
    assert.equal(parsed.rollout.temperature, 0.7);
    assert.equal(parsed.rollout.topP, 0.9);
    assert.equal(parsed.algorithm.miniBatchSize, 16, 'untouched fields stay');
    assert.equal(withHyperParameters(RAW, {}).algorithm, RAW.algorithm);
  });

  it('merges updates field by field, later ones winning, over the config values', () => {
    const base = baseHyperParameters(parseRunConfig(RAW));
    assert.deepEqual(base, {
      lr: 1e-3,
      klCoef: 0.001,
      entropyCoef: 0,
      clipLow: 0.2,
      clipHigh: 0.2,
      temperature: 1,
    });
    const overrides = mergeHyperParameters({ lr: 1e-6, klCoef: 0 }, { lr: 2e-6 });
    assert.deepEqual(overrides, { lr: 2e-6, klCoef: 0 });
    assert.deepEqual(effectiveHyperParameters(base, overrides), { ...base, lr: 2e-6, klCoef: 0 });
  });

  it('round-trips through checkpoint metrics, ignoring the step metrics beside them', () => {
    const overrides = { lr: 1e-6, topP: 0.95 };
    const metrics = { loss: 0.3, lr: 1e-3, ...hyperParameterMetrics(overrides) };
    assert.deepEqual(Object.keys(hyperParameterMetrics(overrides)), [
      'hyperParameters.lr',
      'hyperParameters.topP',
    ]);
    assert.deepEqual(hyperParametersFromMetrics(metrics), overrides);
    assert.deepEqual(hyperParametersFromMetrics({ loss: 1 }), {});
    assert.throws(
      () => hyperParametersFromMetrics({ 'hyperParameters.lr': -1 }),
      /checkpoint metrics: lr must be/,
    );
  });

  it('leaves the run identity (the checkpoint config hash) to the config as given', () => {
    const base = parseRunConfig(RAW);
    const changed = parseRunConfig(withHyperParameters(RAW, { lr: 1e-6 }));
    assert.notDeepEqual(runIdentity(base), runIdentity(changed), 'why overrides must not reach the hash');
  });
});
