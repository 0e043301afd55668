/** The difficulty-filter config (core/config/difficultyFilter.ts): defaults, and errors that name their path. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  DEFAULT_FILTER_SAMPLES,
  DEFAULT_PROBLEMS_PER_SHARD,
  parseDifficultyFilterConfig,
} from '../../../core/config/difficultyFilter.ts';
import { DEFAULT_TASK_QUEUES, RunConfigError } from '../../../core/config/run.ts';
import { TINY_TEXT_INIT } from './configFixtures.ts';

const TASK = {
  kind: 'math',
  data: {
    source: 'synthetic',
    task: { kind: 'arithmetic', knobs: { digits: 2, terms: 2, ops: ['+'] } },
    size: 50,
  },
  prompt: { template: 'plain' },
};

function valid(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    filterId: 'f1',
    model: { checkpoint: { runId: 'sft1', step: 4 } },
    task: TASK,
    store: { url: '/tmp/x' },
    ...overrides,
  };
}

function issuesOf(raw: unknown): string[] {
  try {
    parseDifficultyFilterConfig(raw);
  } catch (error) {
    assert.ok(error instanceof RunConfigError, String(error));
    assert.match(error.message, /^invalid filter config:/);
    return error.issues;
  }
  assert.fail('the config was accepted');
}

describe('difficulty-filter config', () => {
  it('fills the defaults: k samples at the RL temperature, the band unset (drop rates 0 and 1), default queues', () => {
    const c = parseDifficultyFilterConfig(valid());
    assert.equal(c.seed, 0);
    assert.deepEqual(c.sampling, { samples: DEFAULT_FILTER_SAMPLES, temperature: 1, maxNewTokens: 512 });
    assert.equal(c.minPassRate, undefined);
    assert.equal(c.maxPassRate, undefined);
    assert.deepEqual(c.orchestration, {
      taskQueues: { rollout: DEFAULT_TASK_QUEUES.rollout, cpu: DEFAULT_TASK_QUEUES.cpu },
      devices: { rollout: 'cpu' },
      problemsPerShard: DEFAULT_PROBLEMS_PER_SHARD,
      heartbeatTimeoutSeconds: 60,
      intraOpThreads: 1,
    });
    assert.equal(c.task.reward.kind, 'still15b');
  });

  it('takes a model dir, a built model or a checkpoint without a step (the newest)', () => {
    assert.equal(parseDifficultyFilterConfig(valid({ model: { dir: '/models/m' } })).model.dir, '/models/m');
    assert.equal(parseDifficultyFilterConfig(valid({ model: { init: TINY_TEXT_INIT } })).model.init?.seed, 0);
    assert.equal(
      parseDifficultyFilterConfig(valid({ model: { checkpoint: { runId: 'a' } } })).model.checkpoint?.step,
      undefined,
    );
  });

  it('refuses unknown keys and bad values, naming the field', () => {
    assert.deepEqual(issuesOf(valid({ sampling: { samples: -4 } })), [
      'filter.sampling.samples must be a positive integer (got -4)',
    ]);
    assert.deepEqual(issuesOf(valid({ sample: 8 })), ['filter: unknown key "sample"']);
    assert.deepEqual(issuesOf(valid({ orchestration: { shards: 2 } })), [
      'filter.orchestration: unknown key "shards"',
    ]);
    assert.deepEqual(issuesOf(valid({ maxPassRate: 1.5 })), [
      'filter.maxPassRate must be a number in [0, 1] (got 1.5)',
    ]);
    assert.deepEqual(issuesOf(valid({ minPassRate: 0.8, maxPassRate: 0.2 })), [
      'filter.minPassRate must not exceed maxPassRate (0.2) (got 0.8)',
    ]);
    assert.deepEqual(issuesOf(valid({ filterId: 'a/b' })), [
      `filter.filterId must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit (got "a/b")`,
    ]);
    assert.deepEqual(issuesOf(valid({ sampling: { temperature: 0, samples: 4 } })), [
      'filter.sampling.samples must be 1 with greedy decoding (temperature 0): every sample would be the same (got 4)',
    ]);
    assert.ok(
      issuesOf(valid({ task: { kind: 'reverseDigits' } })).includes(
        'filter.task.kind Invalid input: expected "math" (got "reverseDigits")',
      ),
    );
  });

  it('refuses a model without a tokenizer and Countdown data (its rows cannot carry the numbers)', () => {
    const { tokenizer: _t, ...noTokenizer } = TINY_TEXT_INIT;
    assert.deepEqual(issuesOf(valid({ model: { init: noTokenizer } })), [
      'filter.model.init.tokenizer must be "tinyBytes" for a math task (a text task needs a tokenizer)',
    ]);
    const countdown = {
      ...TASK,
      data: { source: 'synthetic', task: { kind: 'countdown', knobs: { count: 3, maxNumber: 9 } }, size: 5 },
    };
    assert.deepEqual(issuesOf(valid({ task: countdown })), [
      'filter.task.data.task.kind must not be "countdown": the filtered rows (problem, answer) cannot carry its numbers',
    ]);
  });

  it('examples/filter.json validates', () => {
    const raw = JSON.parse(readFileSync(new URL('../../../examples/filter.json', import.meta.url), 'utf8'));
    const c = parseDifficultyFilterConfig(raw);
    assert.equal(c.filterId, 'example-filter');
    assert.deepEqual(c.model.checkpoint, { runId: 'example-sft', step: 300 });
  });
});
