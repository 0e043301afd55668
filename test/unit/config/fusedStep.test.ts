/**
 * orchestration.fusedStep: off unless asked for; refused with the torch trainer (which serves updatePolicy
 * only), naming the field; not part of the run's identity (it may change on resume).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseRunConfig,
  RunConfigError,
  runIdentity,
  type RunConfigInput,
} from '../../../core/config/run.ts';
import { TINY_QWEN2 } from '../orchestration/configFixtures.ts';

function run(orchestration: RunConfigInput['orchestration'] = {}): RunConfigInput {
  return {
    runId: 'fused',
    seed: 1,
    steps: 2,
    model: { init: { seed: 0, config: { ...TINY_QWEN2, hiddenSize: 8, intermediateSize: 16 } } },
    rollout: { promptsPerStep: 2, n: 2, maxNewTokens: 3 },
    algorithm: { miniBatchSize: 4, microBatchSize: 2 },
    store: { url: '/tmp/reasonloop-fused-unused' },
    orchestration,
  };
}

describe('orchestration.fusedStep', () => {
  it('is off by default and on when asked for', () => {
    assert.equal(parseRunConfig(run()).orchestration.fusedStep, false);
    assert.equal(parseRunConfig(run({ fusedStep: true })).orchestration.fusedStep, true);
  });

  it('is refused with the torch trainer, naming the field', () => {
    assert.throws(
      () => parseRunConfig(run({ fusedStep: true, trainer: { engine: 'torch' } })),
      (error: unknown) =>
        error instanceof RunConfigError &&
        error.issues.some((i) =>
          /^run\.orchestration\.fusedStep needs orchestration\.trainer\.engine "onnx"/.test(i),
        ),
    );
  });

  it('does not change the run identity', () => {
    const plain = runIdentity(parseRunConfig(run()));
    assert.deepEqual(runIdentity(parseRunConfig(run({ fusedStep: true }))), plain);
  });
});
