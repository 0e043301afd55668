/**
 * What a user reads for a bad config value or CLI argument: missing keys "is required", long values cut,
 * non-finite numbers by name, cross-field clip rule, `set` checked before connecting, and a connection
 * failure that names the address and how to start a server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HyperParameterError, parseHyperParameters } from '../../../core/config/hyperParameters.ts';
import { parseRlAlgorithmConfig } from '../../../core/config/rl.ts';
import { MAX_SHOWN_VALUE_CHARS, shownValue } from '../../../core/config/rules.ts';
import { parseRunConfig, RunConfigError } from '../../../core/config/run.ts';
import { parseSftConfig } from '../../../core/config/sft.ts';
import { unreachableMessage, withClient } from '../../../client/connection.ts';
import { capture } from '../cli/capture.ts';
import { DEFAULT_DEMO, demoConfigs } from '../../../demo/configs.ts';
import { TINY_QWEN2 } from '../orchestration/configFixtures.ts';

const VALID = {
  runId: 'm1',
  seed: 1,
  steps: 2,
  model: {
    init: {
      seed: 0,
      config: TINY_QWEN2,
    },
  },
  rollout: { promptsPerStep: 2, n: 2, maxNewTokens: 3 },
  algorithm: { miniBatchSize: 4, microBatchSize: 2 },
  store: { url: '/tmp/unused-store' },
};

function issuesOf(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    if (error instanceof RunConfigError) return error.issues;
    return (error as Error).message
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
  }
  assert.fail('expected the config to be refused');
}

describe('config messages', () => {
  it('a missing section or key "is required", not zod\'s "expected object, received undefined"', () => {
    const { store: _store, model: _model, ...rest } = VALID;
    assert.deepEqual(
      issuesOf(() => parseRunConfig(rest)),
      ['run.model is required', 'run.store is required'],
    );
    const issues = issuesOf(() => parseSftConfig({}));
    assert.ok(issues.length > 0 && issues.every((l) => / is required$/.test(l)), issues.join('\n'));
  });

  it('a non-finite number is shown as such (JSON reads 1e999 as Infinity), not "got null"', () => {
    const raw = JSON.parse(JSON.stringify(VALID).replace('"steps":2', '"steps":1e999'));
    assert.deepEqual(
      issuesOf(() => parseRunConfig(raw)),
      ['run.steps must be a positive integer (got Infinity)'],
    );
    assert.equal(shownValue(Number.NaN), 'NaN');
    assert.equal(shownValue(-Infinity), '-Infinity');
  });

  it(`a long value is cut to ${MAX_SHOWN_VALUE_CHARS} characters`, () => {
    const huge = 'x'.repeat(1_000_000);
    const [line] = issuesOf(() => parseRunConfig({ ...VALID, runId: huge }));
    const got = /\(got (.*)\)$/.exec(line)![1];
    assert.equal(got.length, MAX_SHOWN_VALUE_CHARS);
    assert.ok(got.endsWith('…'));
    const [key] = issuesOf(() => parseRunConfig({ ...VALID, [huge]: 1 }));
    assert.ok(key.length < 120, key);
  });

  it('clip.low above clip.high is refused in the config and in an update', () => {
    assert.deepEqual(
      issuesOf(() => parseRlAlgorithmConfig({ clip: { low: 0.3, high: 0.2 } })),
      ['algorithm.clip.low must be at most clip.high (0.2) (got 0.3)'],
    );
    parseRlAlgorithmConfig({ clip: { low: 0.2, high: 0.28 } });
    assert.throws(() => parseHyperParameters({ clipLow: 0.3, clipHigh: 0.1 }), HyperParameterError);
  });

  it('a cosine schedule that cannot warm up within the run is refused with the config, not at step 1', () => {
    const cosine = (steps: number, decaySteps?: number) => ({
      ...VALID,
      steps,
      algorithm: {
        ...VALID.algorithm,
        optimizer: { schedule: 'warmupCosine', warmupSteps: 10, ...(decaySteps ? { decaySteps } : {}) },
      },
    });
    assert.deepEqual(
      issuesOf(() => parseRunConfig(cosine(10))),
      [
        'run.steps must be above algorithm.optimizer.warmupSteps (10): warmupCosine decays over the ' +
          "run's steps (or set algorithm.optimizer.decaySteps) (got 10)",
      ],
    );
    parseRunConfig(cosine(11));
    parseRunConfig(cosine(10, 20));
    // The demo's SFT warms up for 10 steps; a short demo (`npm start -- --sft-steps 10`) shortens the warm-up.
    const demo = (sftSteps: number) =>
      demoConfigs({ ...DEFAULT_DEMO, prefix: 't', storeUrl: '/tmp/unused-store', sftSteps, rlSteps: 1 }).sft;
    for (const steps of [1, 10, 300]) parseSftConfig(demo(steps));
    const sft = {
      ...demo(5),
      sft: { ...demo(5).sft, optimizer: { schedule: 'warmupCosine', warmupSteps: 5 } },
    };
    assert.match(
      issuesOf(() => parseSftConfig(sft)).join('\n'),
      /steps must be above sft\.optimizer\.warmupSteps \(5\)/,
    );
  });

  it('`set --lr -1` is refused before any connection (nothing listens at the address)', async () => {
    const saved = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
    try {
      const started = Date.now();
      const r = await capture(['set', 'run1', '--lr', '-1']);
      assert.equal(r.code, 1);
      assert.match(r.err, /lr must be a number > 0 \(got -1\)/);
      assert.ok(Date.now() - started < 2000, 'answered without trying to connect');
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
      else process.env.TEMPORAL_ADDRESS = saved;
    }
  });

  it('a connection failure names the address and how to start a server', async () => {
    const target = { address: '10.0.0.9:7233', namespace: 'ns', connectionOptions: {} };
    const message = unreachableMessage(target, 'Failed to connect before the deadline\nmore');
    assert.match(
      message,
      /Temporal server at 10\.0\.0\.9:7233 \(namespace ns\): Failed to connect before the deadline\./,
    );
    assert.match(message, /infra\/cli\.ts up/);
    assert.match(message, /TEMPORAL_ADDRESS/);
    await assert.rejects(
      withClient(async () => 0, { TEMPORAL_ADDRESS: '127.0.0.1:1' }),
      /cannot reach the Temporal server at 127\.0\.0\.1:1 .*infra\/cli\.ts up/,
    );
  });
});
