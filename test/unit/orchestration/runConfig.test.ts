import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseRunConfig, RunConfigError, runIdentity } from '../../../core/config/run.ts';
import { preflightRun } from '../../../client/preflight.ts';
import { trainCommand } from '../../../cli/commands/train.ts';
import { freePort } from '../../../infra/ports.ts';

const MODEL = {
  init: {
    seed: 0,
    config: {
      vocabSize: 12,
      hiddenSize: 64,
      intermediateSize: 128,
      numHiddenLayers: 2,
      numAttentionHeads: 4,
    },
  },
};

function valid(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    runId: 'r1',
    seed: 1,
    steps: 3,
    model: MODEL,
    rollout: { promptsPerStep: 4, n: 4, maxNewTokens: 3 },
    algorithm: { miniBatchSize: 16, microBatchSize: 8 },
    store: { url: mkdtempSync(join(tmpdir(), 'reasonloop-cfg-')) },
    ...overrides,
  };
}

function issuesOf(raw: unknown): string[] {
  try {
    parseRunConfig(raw);
  } catch (error) {
    assert.ok(error instanceof RunConfigError, String(error));
    return error.issues;
  }
  assert.fail('the config was accepted');
}

describe('run config', () => {
  it('fills the defaults of every section', () => {
    const c = parseRunConfig(valid());
    assert.equal(c.task.kind, 'reverseDigits');
    assert.equal(c.rollout.shards, 1);
    assert.equal(c.algorithm.kl.coef, 0.001);
    assert.deepEqual(c.orchestration.taskQueues, {
      rollout: 'reasonloop-rollout',
      cpu: 'reasonloop-cpu',
      trainer: 'reasonloop-trainer',
    });
    assert.equal(c.store.retention.keepLastOptimizerStates, 2);
  });

  it('names the field of a wrong type, with the value', () => {
    assert.deepEqual(issuesOf(valid({ steps: 'ten' })), ['run.steps must be a positive integer (got "ten")']);
  });

  it('names an unknown key, nested ones included', () => {
    assert.deepEqual(issuesOf(valid({ bogus: 1 })), ['run: unknown key "bogus"']);
    assert.deepEqual(issuesOf(valid({ rollout: { promptsPerStep: 4, n: 4, nn: 2 } })), [
      'run.rollout: unknown key "nn"',
    ]);
  });

  it('rejects a negative batch', () => {
    const issues = issuesOf(valid({ rollout: { promptsPerStep: -4, n: 4 } }));
    assert.ok(
      issues.includes('run.rollout.promptsPerStep must be a positive integer (got -4)'),
      issues.join('\n'),
    );
  });

  it('checks the sections against each other', () => {
    assert.deepEqual(issuesOf(valid({ algorithm: { miniBatchSize: 12, microBatchSize: 4 } })), [
      'run.algorithm.miniBatchSize must divide the rollout batch rollout.promptsPerStep × rollout.n (16) (got 12)',
    ]);
    assert.deepEqual(issuesOf(valid({ model: { ...MODEL, dir: '/models/x' } })), [
      'run.model must set exactly one of "init", "dir" or "checkpoint"',
    ]);
    assert.match(
      issuesOf(valid({ model: { init: { seed: 0, config: { ...MODEL.init.config, vocabSize: 8 } } } }))[0],
      /^run\.model\.init\.config\.vocabSize must cover the task's tokens \(at least 12\)/,
    );
  });

  it('identifies a run by what changes its results, not by steps, store or queues', () => {
    const a = runIdentity(parseRunConfig(valid()));
    const b = runIdentity(parseRunConfig(valid({ steps: 50, orchestration: { continueAsNewEvery: 2 } })));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, runIdentity(parseRunConfig(valid({ seed: 2 }))));
  });
});

describe('preflight (before any workflow starts)', () => {
  it('accepts a valid config with a local store', async () => {
    assert.equal((await preflightRun(valid())).runId, 'r1');
  });

  it('names a missing model dir', async () => {
    await assert.rejects(
      preflightRun(valid({ model: { dir: '/nonexistent/model' } })),
      /^Error: run\.model\.dir \/nonexistent\/model: not an HF model directory \(no config\.json\)$/,
    );
  });

  it('names an unreachable S3 store, within seconds', async () => {
    const port = await freePort();
    const env = {
      REASONLOOP_S3_ENDPOINT: `http://127.0.0.1:${port}`,
      REASONLOOP_S3_ACCESS_KEY_ID: 'k',
      REASONLOOP_S3_SECRET_ACCESS_KEY: 's',
      REASONLOOP_S3_REGION: 'us-east-1',
    };
    const started = Date.now();
    await assert.rejects(preflightRun(valid({ store: { url: 's3://runs/x' } }), env), (error: Error) => {
      assert.match(error.message, /^run\.store\.url s3:\/\/runs\/x: .*unreachable/);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  it('reasonloop train refuses a bad config before contacting Temporal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reasonloop-cfg-'));
    const file = join(dir, 'run.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, JSON.stringify(valid({ rollout: { n: -4 } })));
    const before = process.env.TEMPORAL_ADDRESS;
    // Nothing listens here: a connection attempt would fail with a different error.
    process.env.TEMPORAL_ADDRESS = `127.0.0.1:${await freePort()}`;
    try {
      await assert.rejects(
        trainCommand.run(['--config', file]),
        /run\.rollout\.n must be a positive integer \(got -4\)/,
      );
    } finally {
      if (before === undefined) delete process.env.TEMPORAL_ADDRESS;
      else process.env.TEMPORAL_ADDRESS = before;
    }
  });
});

describe('options that need state across steps are carried by the checkpoint', () => {
  it('accepts a running baseline', () => {
    const c = parseRunConfig(
      valid({
        algorithm: {
          miniBatchSize: 16,
          microBatchSize: 8,
          advantage: { estimator: 'reinforceBaseline', baselineDecay: 0.9 },
        },
      }),
    );
    assert.equal(c.algorithm.advantage.estimator, 'reinforceBaseline');
  });
  it('accepts a periodically refreshed reference', () => {
    const c = parseRunConfig(
      valid({ algorithm: { miniBatchSize: 16, microBatchSize: 8, kl: { refreshReferenceEvery: 5 } } }),
    );
    assert.equal(c.algorithm.kl.refreshReferenceEvery, 5);
  });
});
