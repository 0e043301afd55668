/**
 * The difficulty filter's activities in a mock activity context on a tiny model and local folder stores:
 * plan → shards → write. The same config gives byte-identical pass rates in a fresh store; a finished
 * result and finished shards are reused; a checkpoint without a step is pinned to the newest one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import {
  filterShard,
  planDifficultyFilter,
  writeDifficultyFilter,
  type FilterPlan,
  type FilterShardOutput,
} from '../../../activities/difficultyFilter/index.ts';
import { prepareSft } from '../../../activities/sft.ts';
import type { DifficultyFilterSummary } from '../../../core/data/difficulty.ts';
import { TINY_VOCAB_SIZE } from '../../../core/model/tinyTokenizer.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-filter-act-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

const INIT = {
  seed: 1,
  config: {
    vocabSize: TINY_VOCAB_SIZE,
    hiddenSize: 16,
    intermediateSize: 32,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    maxPositionEmbeddings: 64,
  },
  tokenizer: 'tinyBytes',
};

const TASK = {
  kind: 'math',
  data: {
    source: 'synthetic',
    task: { kind: 'arithmetic', knobs: { digits: 1, terms: 2, ops: ['+'] } },
    size: 20,
  },
  prompt: { template: 'plain' },
  reward: { kind: 'correctness', verifier: { lastNumberFallback: true } },
};

function config(store: string, overrides: Record<string, unknown> = {}) {
  return {
    filterId: 'f',
    seed: 4,
    model: { init: INIT },
    task: TASK,
    sampling: { samples: 8, maxNewTokens: 2 },
    store: { url: join(DIR, store) },
    orchestration: { problemsPerShard: 8 },
    ...overrides,
  };
}

/** What the workflow does, activity by activity. */
async function runFilter(
  raw: unknown,
): Promise<{ plan: FilterPlan; shards: FilterShardOutput[]; summary: DifficultyFilterSummary }> {
  const plan = (await env.run(planDifficultyFilter, raw)) as FilterPlan;
  if (plan.done) return { plan, shards: [], summary: plan.done };
  const { prefix, model, problems, shards: ranges } = plan;
  const shards: FilterShardOutput[] = [];
  for (const shard of ranges)
    shards.push(
      (await env.run(filterShard, {
        config: raw,
        plan: { prefix, model, problems },
        shard,
      })) as FilterShardOutput,
    );
  const summary = (await env.run(writeDifficultyFilter, {
    config: raw,
    plan: { prefix, model, problems, shards: ranges },
  })) as DifficultyFilterSummary;
  return { plan, shards, summary };
}

const storeFile = (store: string, key: string) => readFileSync(join(DIR, store, key), 'utf8');

describe('difficulty filter activities', () => {
  it('plans shards, counts passes, writes both files; the same config in a fresh store gives the same bytes', async () => {
    const a = await runFilter(config('a'));
    assert.deepEqual(a.plan.shards, [
      { first: 0, count: 8 },
      { first: 8, count: 8 },
      { first: 16, count: 4 },
    ]);
    assert.equal(a.summary.total, 20);
    assert.equal(
      a.shards.reduce((n, s) => n + s.passes, 0),
      Math.round(a.summary.meanPassRate * 20 * 8),
    );
    assert.ok(a.shards.every((s) => !s.reused));
    const b = await runFilter(config('b'));
    assert.equal(storeFile('b', b.summary.passRatesKey), storeFile('a', a.summary.passRatesKey));
    assert.equal(storeFile('b', b.summary.filteredKey), storeFile('a', a.summary.filteredKey));
    const rows = storeFile('a', a.summary.passRatesKey)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, 20);
  });

  it('returns a finished result as is, and another band reuses the finished shards', async () => {
    const again = await runFilter(config('a'));
    assert.equal(again.summary.reused, true);
    assert.deepEqual(again.shards, []);
    const band = await runFilter(config('a', { minPassRate: 0, maxPassRate: 0.5 }));
    assert.ok(band.shards.every((s) => s.reused));
    assert.notEqual(band.summary.filteredKey, again.summary.filteredKey);
    assert.equal(band.summary.kept + band.summary.tooEasy, 20);
  });

  it('another seed or k samples again into another folder', async () => {
    const base = await runFilter(config('a'));
    const seeded = await runFilter(config('a', { seed: 5 }));
    assert.equal(seeded.summary.reused, undefined);
    assert.notEqual(seeded.plan.prefix, base.plan.prefix);
  });

  it('pins a checkpoint without a step to the newest verified one', async () => {
    const store = join(DIR, 'ckpt');
    await env.run(prepareSft, {
      runId: 'sft1',
      seed: 0,
      steps: 2,
      model: { init: INIT },
      task: { kind: 'math', data: TASK.data, prompt: { template: 'plain' } },
      store: { url: store },
    });
    const plan = (await env.run(
      planDifficultyFilter,
      config('ckpt', { model: { checkpoint: { runId: 'sft1' } } }),
    )) as FilterPlan;
    assert.equal(plan.model.tag, 'checkpoint:sft1@0');
    assert.deepEqual(plan.model.source, { checkpoint: { runId: 'sft1', step: 0 } });
    assert.match(plan.prefix, /^filters\/f\/sft1\/000000\/[0-9a-f]{12}\/$/);
    await assert.rejects(
      env.run(planDifficultyFilter, config('ckpt', { model: { checkpoint: { runId: 'none' } } })),
      /model\.checkpoint: run none has no verified checkpoint yet/,
    );
  });

  it('bad data and bad configs are permanent failures naming the field', async () => {
    const empty = join(DIR, 'empty.jsonl');
    writeFileSync(empty, '{"problem":"no answer here"}\nnot json\n');
    const data = { source: 'file', path: empty, answerField: 'answer' };
    await assert.rejects(
      env.run(planDifficultyFilter, config('e', { task: { ...TASK, data } })),
      (e: Error) => {
        assert.match(e.message, /task\.data: the data has no usable problems/);
        assert.equal((e as { nonRetryable?: boolean }).nonRetryable, true);
        return true;
      },
    );
    await assert.rejects(
      env.run(planDifficultyFilter, config('e', { sampling: { samples: 0 } })),
      (e: Error) => {
        assert.match(e.message, /filter\.sampling\.samples must be a positive integer \(got 0\)/);
        assert.equal((e as { nonRetryable?: boolean }).nonRetryable, true);
        return true;
      },
    );
  });
});
