/** The evaluation config (core/config/evaluation.ts): defaults, and errors that name their path. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEvaluationConfig } from '../../../core/config/evaluation.ts';
import { RunConfigError } from '../../../core/config/run.ts';
import { TINY_TEXT_INIT } from './configFixtures.ts';

const HELD_OUT = {
  kind: 'math',
  data: {
    source: 'synthetic',
    task: { kind: 'arithmetic', knobs: { digits: 2, terms: 2, ops: ['+'] } },
    size: 50,
    split: 'heldOut',
    heldOutSize: 20,
  },
  prompt: { template: 'plain' },
};

function valid(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    evalId: 'ev1',
    model: { checkpoint: { runId: 'sft1' } },
    task: HELD_OUT,
    store: { url: '/tmp/x' },
    ...overrides,
  };
}

function issuesOf(raw: unknown): string[] {
  try {
    parseEvaluationConfig(raw);
  } catch (error) {
    assert.ok(error instanceof RunConfigError, String(error));
    assert.match(error.message, /^invalid evaluation config:/);
    return error.issues;
  }
  assert.fail('the config was accepted');
}

describe('evaluation config', () => {
  it('a minimal config gets the defaults: greedy, one sample, newest checkpoint', () => {
    const c = parseEvaluationConfig(valid());
    assert.deepEqual(c.sampling, { samples: 1, temperature: 0, maxNewTokens: 512 });
    assert.equal(c.seed, 0);
    assert.equal(c.limit, undefined);
    assert.deepEqual(c.model, { checkpoint: { runId: 'sft1' } });
    assert.deepEqual(c.orchestration, {
      taskQueue: 'reasonloop-rollout',
      device: 'cpu',
      heartbeatTimeoutSeconds: 60,
      intraOpThreads: 1,
    });
    assert.equal(c.task.kind, 'math');
  });

  it('sampled evaluation may take several samples; greedy may not', () => {
    const sampled = parseEvaluationConfig(valid({ sampling: { samples: 4, temperature: 0.6, topP: 0.95 } }));
    assert.equal(sampled.sampling.samples, 4);
    assert.deepEqual(issuesOf(valid({ sampling: { samples: 4 } })), [
      'evaluation.sampling.samples must be 1 with greedy decoding (temperature 0): every sample would be the same (got 4)',
    ]);
    assert.deepEqual(issuesOf(valid({ sampling: { temperature: -1 } })), [
      'evaluation.sampling.temperature must be a number ≥ 0 (got -1)',
    ]);
    assert.deepEqual(issuesOf(valid({ sampling: { topP: 0 } })), [
      'evaluation.sampling.topP must be a number in (0, 1] (got 0)',
    ]);
  });

  it('model needs exactly one of init, dir or checkpoint', () => {
    const message = 'evaluation.model must set exactly one of "init", "dir", "checkpoint" or "endpoint"';
    assert.deepEqual(issuesOf(valid({ model: {} })), [message]);
    assert.deepEqual(issuesOf(valid({ model: { dir: '/m', checkpoint: { runId: 'a' } } })), [message]);
    assert.deepEqual(parseEvaluationConfig(valid({ model: { dir: '/m' } })).model, { dir: '/m' });
    assert.deepEqual(parseEvaluationConfig(valid({ model: { checkpoint: { runId: 'a', step: 3 } } })).model, {
      checkpoint: { runId: 'a', step: 3 },
    });
    assert.deepEqual(issuesOf(valid({ model: { checkpoint: { runId: 'a', step: -1 } } })), [
      'evaluation.model.checkpoint.step must be an integer ≥ 0 (got -1)',
    ]);
  });

  it('a math task on a built model needs its tokenizer; reverseDigits does not', () => {
    const { tokenizer: _tokenizer, ...noTokenizer } = TINY_TEXT_INIT;
    assert.deepEqual(issuesOf(valid({ model: { init: noTokenizer } })), [
      'evaluation.model.init.tokenizer must be "tinyBytes" for a math task (a text task needs a tokenizer)',
    ]);
    const c = parseEvaluationConfig(valid({ model: { init: noTokenizer }, task: { kind: 'reverseDigits' } }));
    assert.deepEqual(c.task, { kind: 'reverseDigits', digits: 2, separatorToken: 10, eosToken: 11 });
  });

  it('limit, evalId and unknown keys name their path', () => {
    assert.deepEqual(issuesOf(valid({ limit: 0 })), ['evaluation.limit must be a positive integer (got 0)']);
    assert.match(issuesOf(valid({ evalId: 'a/b' }))[0], /^evaluation\.evalId must be 1-128 letters/);
    assert.deepEqual(issuesOf(valid({ sampling: { sample: 2 } })), [
      'evaluation.sampling: unknown key "sample"',
    ]);
    assert.deepEqual(issuesOf(valid({ store: { url: '/x', retention: {} } })), [
      'evaluation.store: unknown key "retention"',
    ]);
    assert.deepEqual(issuesOf(valid({ task: { kind: 'poetry' } })), [
      'evaluation.task.kind must have a "kind" of "reverseDigits" or "math"',
    ]);
  });
});
