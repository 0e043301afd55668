/**
 * SFT on a file's worked solutions (sft.solutions): the config, the row (the prompt through the task's
 * template, the solution + EOS as the completion, as TRL's SFTTrainer builds prompt/completion rows), and
 * sftSteps in a mock activity context on a tiny model: it trains, the loss falls, bad rows are counted.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import {
  prepareSft,
  sftSteps,
  solutionRow,
  type SftPlan,
  type SftStepsOutput,
} from '../../../activities/sft.ts';
import { RunConfigError } from '../../../core/config/run.ts';
import { parseSftConfig } from '../../../core/config/sft.ts';
import { buildTinyTokenizer, TINY_VOCAB_SIZE } from '../../../core/model/tinyTokenizer.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-sft-solutions-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

const SOLUTIONS = join(DIR, 'solutions.jsonl');
writeFileSync(
  SOLUTIONS,
  [
    { question: 'Compute $2+3$.', worked: '2+3=5. \\boxed{5}' },
    { question: 'Compute $4+4$.', worked: '4+4=8. \\boxed{8}' },
    { question: 'Compute $1+6$.' },
    { question: 'Compute $7+1$.', worked: '7+1=8. \\boxed{8}' },
    { question: 'Compute $3+3$.', worked: '3+3=6. \\boxed{6}' },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n'),
);

function config(storeUrl: string, overrides: Record<string, unknown> = {}) {
  return {
    runId: 'sft-sol',
    seed: 2,
    steps: 8,
    model: {
      init: {
        seed: 3,
        config: {
          vocabSize: TINY_VOCAB_SIZE,
          hiddenSize: 16,
          intermediateSize: 32,
          numHiddenLayers: 1,
          numAttentionHeads: 2,
          maxPositionEmbeddings: 128,
        },
        tokenizer: 'tinyBytes',
      },
    },
    task: {
      kind: 'math',
      data: { source: 'file', path: SOLUTIONS, problemField: 'question', solutionField: 'worked' },
      prompt: { template: 'chat' },
    },
    sft: {
      batchSize: 4,
      checkpointEvery: 4,
      optimizer: { lr: 1e-2 },
      solutions: { path: SOLUTIONS, problemField: 'question', solutionField: 'worked' },
    },
    store: { url: storeUrl },
    ...overrides,
  };
}

describe('sft.solutions', () => {
  it('defaults the field names to problem/solution and lifts the synthetic-arithmetic rule', () => {
    const c = parseSftConfig({ ...config('/tmp/x'), sft: { solutions: { path: '/d/s.parquet' } } });
    assert.deepEqual(c.sft.solutions, {
      path: '/d/s.parquet',
      problemField: 'problem',
      solutionField: 'solution',
    });
    try {
      parseSftConfig({ ...config('/tmp/x'), sft: { solutions: { path: '', extra: 1 } } });
      assert.fail('accepted');
    } catch (error) {
      assert.ok(error instanceof RunConfigError);
      assert.deepEqual(error.issues, [
        'sft.sft.solutions.path must be a path to a .jsonl, .json or .parquet file (got "")',
        'sft.sft.solutions: unknown key "extra"',
      ]);
    }
  });

  it('a row is the chat prompt with the generation prompt, then the solution and <|im_end|>', () => {
    const c = parseSftConfig(config('/tmp/x'));
    const tokenizer = new QwenTokenizer(buildTinyTokenizer());
    const imEnd = tokenizer.eosTokenId!;
    const row = solutionRow(c, tokenizer, imEnd, {
      id: 'a',
      problem: 'Compute $2+3$.',
      solution: '2+3=5. \\boxed{5}',
    });
    const user = {
      role: 'user' as const,
      content: 'Compute $2+3$.\nPlease reason step by step, and put your final answer within \\boxed{}.',
    };
    assert.deepEqual(row.promptIds, tokenizer.encodeChat([user], { addGenerationPrompt: true }));
    assert.deepEqual(row.responseIds, [...tokenizer.encode('2+3=5. \\boxed{5}'), imEnd]);
    // The whole conversation rendered by the template starts with prompt + completion (TRL's split point).
    const whole = tokenizer.encodeChat([user, { role: 'assistant', content: '2+3=5. \\boxed{5}' }]);
    assert.deepEqual(whole.slice(0, row.promptIds.length + row.responseIds.length), [
      ...row.promptIds,
      ...row.responseIds,
    ]);
  });

  it('sftSteps trains on the file: the loss falls and the bad row is counted', async () => {
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    const raw = config(join(DIR, 'store'));
    const plan = (await env.run(prepareSft, raw)) as SftPlan;
    const first = (await env.run(sftSteps, {
      config: raw,
      fromStep: 0,
      toStep: 4,
      cursor: plan.cursor,
    })) as SftStepsOutput;
    const second = (await env.run(sftSteps, {
      config: raw,
      fromStep: 4,
      toStep: 8,
      cursor: first.cursor,
    })) as SftStepsOutput;
    assert.equal(first.metrics.skippedRows, 1);
    assert.ok(Number.isFinite(first.metrics.loss) && first.metrics.loss > 0, String(first.metrics.loss));
    assert.ok(second.metrics.loss < first.metrics.loss, `${second.metrics.loss} < ${first.metrics.loss}`);
    // 4 usable rows (the cursor's epoch length), 4 per step, 8 steps: 32 rows drawn.
    assert.equal(second.cursor.epoch * 4 + second.cursor.position, 32);
  });

  it('a file without one usable row is a permanent data error, raised before step 0 is written', async () => {
    const empty = join(DIR, 'empty.jsonl');
    writeFileSync(empty, '{"question":"only a problem"}\n');
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    const raw = config(join(DIR, 'store-empty'), { runId: 'sft-empty' });
    raw.sft.solutions = { path: empty, problemField: 'question', solutionField: 'worked' };
    await assert.rejects(env.run(prepareSft, raw), (e: Error) => {
      assert.match(
        e.message,
        /sft\.solutions .*empty\.jsonl: no usable rows \(.*field "worked" is missing or not text\)/,
      );
      assert.equal((e as { nonRetryable?: boolean }).nonRetryable, true);
      return true;
    });
    assert.equal(existsSync(join(DIR, 'store-empty', 'runs', 'sft-empty')), false, 'no checkpoint written');
  });
});
