/** The SFT config (core/config/sft.ts): defaults, and errors that name their path. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunConfigError } from '../../../core/config/run.ts';
import { parseSftConfig, sftIdentity } from '../../../core/config/sft.ts';
import { TINY_VOCAB_SIZE } from '../../../core/model/tinyTokenizer.ts';
import { TINY_TEXT_INIT, SYNTHETIC_ADDITION } from './configFixtures.ts';

function valid(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    runId: 'sft1',
    seed: 1,
    steps: 4,
    model: { init: TINY_TEXT_INIT },
    task: SYNTHETIC_ADDITION,
    store: { url: '/tmp/x' },
    ...overrides,
  };
}

function issuesOf(raw: unknown): string[] {
  try {
    parseSftConfig(raw);
  } catch (error) {
    assert.ok(error instanceof RunConfigError, String(error));
    assert.match(error.message, /^invalid sft config:/);
    return error.issues;
  }
  assert.fail('the config was accepted');
}

describe('sft config', () => {
  it('refuses orchestration.trainer (engine "torch" included) with the reason: SFT runs on the TypeScript trainer', () => {
    assert.deepEqual(issuesOf(valid({ orchestration: { trainer: { engine: 'torch' } } })), [
      'sft.orchestration.trainer is an RL run setting: SFT steps run on the TypeScript trainer only (the torch trainer serves updatePolicy, not sftSteps); remove it',
    ]);
  });

  it('a minimal config gets the defaults', () => {
    const c = parseSftConfig(valid());
    assert.equal(c.sft.batchSize, 32);
    assert.equal(c.sft.microBatchSize, undefined);
    assert.equal(c.sft.traceErrorRate, 0);
    assert.equal(c.sft.checkpointEvery, 25);
    assert.equal(c.sft.optimizer.lr, 1e-5);
    assert.equal(c.sft.optimizer.schedule, 'constant');
    assert.equal(c.task.prompt.template, 'chat');
    assert.equal(c.task.reward.kind, 'still15b');
    assert.equal(c.task.data.source, 'synthetic');
    if (c.task.data.source === 'synthetic') {
      assert.equal(c.task.data.split, 'train');
      assert.equal(c.task.data.seed, 0);
    }
    assert.equal(c.orchestration.intraOpThreads, 1);
    assert.equal(c.model.init?.config.maxPositionEmbeddings, 64);
  });

  it('the identity changes with what changes the model, not with steps or store', () => {
    const a = sftIdentity(parseSftConfig(valid()));
    assert.deepEqual(a, sftIdentity(parseSftConfig(valid({ steps: 9, store: { url: '/tmp/y' } }))));
    assert.notDeepEqual(a, sftIdentity(parseSftConfig(valid({ sft: { traceErrorRate: 0.5 } }))));
  });

  it('microBatchSize above batchSize names its path and both numbers', () => {
    assert.deepEqual(issuesOf(valid({ sft: { batchSize: 4, microBatchSize: 8 } })), [
      'sft.sft.microBatchSize must be at most sft.batchSize (4) (got 8)',
    ]);
  });

  it('traceErrorRate outside [0, 1] and a zero batch are refused', () => {
    assert.deepEqual(issuesOf(valid({ sft: { traceErrorRate: 1.5 } })), [
      'sft.sft.traceErrorRate must be a number in [0, 1] (got 1.5)',
    ]);
    assert.deepEqual(issuesOf(valid({ sft: { batchSize: 0 } })), [
      'sft.sft.batchSize must be a positive integer (got 0)',
    ]);
  });

  it('a longAddition task has the habit teacher, with its rates checked; no other task takes them', () => {
    const longAddition = {
      ...SYNTHETIC_ADDITION,
      data: {
        source: 'synthetic',
        task: { kind: 'longAddition', knobs: { digits: 3, minCarries: 1 } },
        size: 5,
      },
    };
    const habits = { direct: 0.5, checked: 0.15, directErrorRate: 0.5, workedErrorRate: 0.2 };
    assert.deepEqual(parseSftConfig(valid({ task: longAddition, sft: { habits } })).sft.habits, habits);
    assert.equal(parseSftConfig(valid({ task: longAddition })).sft.habits, undefined);
    assert.deepEqual(issuesOf(valid({ task: longAddition, sft: { habits: { ...habits, direct: 0.9 } } })), [
      'sft.sft.habits direct + checked must be at most 1',
    ]);
    assert.deepEqual(issuesOf(valid({ sft: { habits } })), [
      'sft.sft.habits is the habit teacher of a longAddition task: task.data must be synthetic longAddition',
    ]);
  });

  it('only synthetic arithmetic has traces', () => {
    const linear = {
      ...SYNTHETIC_ADDITION,
      data: {
        source: 'synthetic',
        task: { kind: 'linear', knobs: { maxCoefficient: 3, maxSolution: 5, fractional: false } },
        size: 5,
      },
    };
    assert.deepEqual(issuesOf(valid({ task: linear })), [
      'sft.task.data must be synthetic arithmetic or longAddition: SFT imitates the worked solutions of core/data/traces.ts',
    ]);
    const benchmark = { kind: 'math', data: { source: 'benchmark', name: 'amc23' } };
    assert.equal(
      issuesOf(valid({ task: benchmark }))[0].startsWith('sft.task.data must be synthetic arithmetic'),
      true,
    );
  });

  it('a built model needs the tinyBytes tokenizer and room for it', () => {
    const { tokenizer: _tokenizer, ...noTokenizer } = TINY_TEXT_INIT;
    assert.deepEqual(issuesOf(valid({ model: { init: noTokenizer } })), [
      'sft.model.init.tokenizer must be "tinyBytes" (SFT on text needs a tokenizer)',
    ]);
    const small = { ...TINY_TEXT_INIT, config: { ...TINY_TEXT_INIT.config, vocabSize: TINY_VOCAB_SIZE - 1 } };
    assert.deepEqual(issuesOf(valid({ model: { init: small } })), [
      `sft.model.init.config.vocabSize must cover the tinyBytes tokenizer (at least ${TINY_VOCAB_SIZE}) (got ${TINY_VOCAB_SIZE - 1})`,
    ]);
    assert.deepEqual(issuesOf(valid({ model: { init: { ...TINY_TEXT_INIT, tokenizer: 'qwen' } } })), [
      'sft.model.init.tokenizer must be "tinyBytes" (got "qwen")',
    ]);
  });

  it('model needs exactly one source; a checkpoint source parses', () => {
    assert.deepEqual(issuesOf(valid({ model: {} })), [
      'sft.model must set exactly one of "init", "dir" or "checkpoint"',
    ]);
    assert.deepEqual(
      issuesOf(valid({ model: { init: TINY_TEXT_INIT, checkpoint: { runId: 'a', step: 2 } } })),
      ['sft.model must set exactly one of "init", "dir" or "checkpoint"'],
    );
    assert.deepEqual(parseSftConfig(valid({ model: { checkpoint: { runId: 'a', step: 2 } } })).model, {
      checkpoint: { runId: 'a', step: 2 },
    });
  });

  it('unknown keys are named with their path', () => {
    assert.deepEqual(issuesOf(valid({ sft: { batchsize: 4 } })), ['sft.sft: unknown key "batchsize"']);
    assert.deepEqual(issuesOf(valid({ extra: 1 })), ['sft: unknown key "extra"']);
    assert.deepEqual(
      issuesOf(valid({ task: { ...SYNTHETIC_ADDITION, prompt: { template: 'plain', sytem: 'x' } } })),
      ['sft.task.prompt: unknown key "sytem"'],
    );
  });

  it('steps and runId are required', () => {
    const { steps: _steps, runId: _runId, ...rest } = valid();
    const issues = issuesOf(rest);
    assert.ok(
      issues.some((i) => i.startsWith('sft.runId ')),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((i) => i === 'sft.steps is required'),
      issues.join('\n'),
    );
  });
});
