/** core/data/difficulty.ts: the keep band, shard ranges, and the filtered rows as a `file` data source reads them. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  applyDifficultyFilter,
  classifyPassRate,
  FILTERED_DATA_FIELDS,
  shardRanges,
  toJsonl,
} from '../../../core/data/difficulty.ts';
import { loadTaskProblems } from '../../../core/data/splits.ts';

const count = (passes: number, samples = 8) => ({ passes, samples });

describe('classifyPassRate', () => {
  it('by default drops exactly the never-solved and the always-solved problems (STILL-3)', () => {
    assert.equal(classifyPassRate(count(0), {}), 'tooHard');
    assert.equal(classifyPassRate(count(1), {}), 'kept');
    assert.equal(classifyPassRate(count(7), {}), 'kept');
    assert.equal(classifyPassRate(count(8), {}), 'tooEasy');
  });

  it('treats a set bound as inclusive', () => {
    const band = { minPassRate: 0.25, maxPassRate: 0.75 };
    assert.equal(classifyPassRate(count(1), band), 'tooHard');
    assert.equal(classifyPassRate(count(2), band), 'kept');
    assert.equal(classifyPassRate(count(6), band), 'kept');
    assert.equal(classifyPassRate(count(7), band), 'tooEasy');
    assert.equal(classifyPassRate(count(0), { minPassRate: 0, maxPassRate: 0 }), 'kept');
    assert.equal(classifyPassRate(count(8), { maxPassRate: 1 }), 'kept');
    assert.equal(classifyPassRate(count(0), { maxPassRate: 1 }), 'tooHard');
  });
});

describe('shardRanges', () => {
  it('covers every problem once, in order, the last shard shorter', () => {
    assert.deepEqual(shardRanges(10, 4), [
      { first: 0, count: 4 },
      { first: 4, count: 4 },
      { first: 8, count: 2 },
    ]);
    assert.deepEqual(shardRanges(3, 64), [{ first: 0, count: 3 }]);
    assert.throws(() => shardRanges(3, 0), /problems per shard must be a positive integer \(got 0\)/);
  });
});

const PROBLEMS = [
  { id: 'a', problem: 'Compute $1 + 1$.', answer: '2' },
  { id: 'b', problem: 'Compute $2 + 2$.', answer: '4' },
  { id: 'c', problem: 'What is $\\frac{1}{2}$ of 8?', answer: '4' },
  { id: 'd', problem: 'Solve $x^2 = 9$, $x > 0$.', answer: '3' },
];

describe('applyDifficultyFilter', () => {
  it('joins counts given in any order, tallies, and keeps the rows inside the band in data order', () => {
    const out = applyDifficultyFilter(
      PROBLEMS,
      [
        { index: 3, passes: 2, samples: 4 },
        { index: 0, passes: 0, samples: 4 },
        { index: 2, passes: 1, samples: 4 },
        { index: 1, passes: 4, samples: 4 },
      ],
      {},
    );
    assert.deepEqual(out.counts, { total: 4, kept: 2, tooEasy: 1, tooHard: 1 });
    assert.deepEqual(
      out.filtered.map((r) => r.id),
      ['c', 'd'],
    );
    assert.deepEqual(out.passRates[2], {
      index: 2,
      ...PROBLEMS[2],
      passes: 1,
      samples: 4,
      passRate: 0.25,
      difficulty: 'kept',
    });
  });

  it('refuses a missing, repeated or foreign count', () => {
    const c = (index: number) => ({ index, passes: 1, samples: 2 });
    assert.throws(
      () => applyDifficultyFilter(PROBLEMS, [c(0), c(1), c(2)], {}),
      /problem 3 has no pass count/,
    );
    assert.throws(() => applyDifficultyFilter(PROBLEMS, [c(0), c(0)], {}), /problem 0 was counted twice/);
    assert.throws(
      () => applyDifficultyFilter(PROBLEMS, [c(4)], {}),
      /problem 4 is outside the data \(4 problems\)/,
    );
  });

  it('writes rows the file data source loads back unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reasonloop-difficulty-'));
    try {
      const path = join(dir, 'filtered.jsonl');
      writeFileSync(path, toJsonl(PROBLEMS));
      const loaded = await loadTaskProblems({
        source: 'file',
        path,
        ...FILTERED_DATA_FIELDS,
        answerFormat: 'plain',
        dedupe: false,
      });
      assert.equal(loaded.skipped.count, 0);
      assert.deepEqual(loaded.problems, PROBLEMS);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('toJsonl ends every row with a newline and writes nothing for no rows', () => {
    assert.equal(toJsonl([]), '');
    assert.equal(toJsonl([{ a: 1 }, { b: 'x' }]), '{"a":1}\n{"b":"x"}\n');
  });
});
