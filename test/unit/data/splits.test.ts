/**
 * Training and held-out splits of a synthetic task (core/data/splits.ts), and loading a task's problems
 * from a benchmark or a file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateTasks } from '../../../core/data/synthetic.ts';
import {
  heldOutSeed,
  loadTaskProblems,
  syntheticSplit,
  type SyntheticDataSpec,
} from '../../../core/data/splits.ts';

function arithmetic(
  digits: number,
  size: number,
  heldOutSize: number,
  split: 'train' | 'heldOut',
): SyntheticDataSpec {
  return {
    source: 'synthetic',
    task: { kind: 'arithmetic', knobs: { digits, terms: 2, ops: ['+'] } },
    size,
    seed: 7,
    split,
    heldOutSize,
  };
}

describe('syntheticSplit', () => {
  it('the training split is tasks 0…size−1 of the seed', () => {
    const spec = arithmetic(3, 40, 10, 'train');
    assert.deepEqual(syntheticSplit(spec), generateTasks(spec.task, spec.seed, spec.size));
  });

  it('the held-out split has heldOutSize distinct problems, none of them a training problem, deterministically', () => {
    // 2-digit sums: 8100 problems, so a 300-problem training split collides with held-out draws often.
    const train = syntheticSplit(arithmetic(2, 300, 200, 'train'));
    const heldOut = syntheticSplit(arithmetic(2, 300, 200, 'heldOut'));
    assert.equal(heldOut.length, 200);
    const trainTexts = new Set(train.map((p) => p.problem));
    for (const p of heldOut)
      assert.ok(!trainTexts.has(p.problem), `held-out ${p.problem} is a training problem`);
    assert.equal(new Set(heldOut.map((p) => p.problem)).size, heldOut.length, 'held-out duplicates');
    assert.deepEqual(syntheticSplit(arithmetic(2, 300, 200, 'heldOut')), heldOut);
    // Drawn from the derived seed, so it is not simply the next tasks of the training seed.
    assert.notEqual(heldOutSeed(7), 7);
    assert.equal(heldOut[0].id.split(':')[1], String(heldOutSeed(7)));
    // The exclusion was exercised: the raw held-out stream does hit training problems.
    const raw = generateTasks(arithmetic(2, 300, 200, 'train').task, heldOutSeed(7), 200);
    assert.ok(
      raw.some((p) => trainTexts.has(p.problem)),
      'no collision to exclude: pick a smaller task space',
    );
  });

  it('a task space too small for train + held out fails naming heldOutSize', () => {
    // 1-digit sums: only 81 distinct problems; 80 training draws cover most of them.
    assert.throws(() => syntheticSplit(arithmetic(1, 80, 50, 'heldOut')), /heldOutSize 50/);
  });
});

describe('loadTaskProblems', () => {
  it('a synthetic spec loads its split with nothing skipped', async () => {
    const loaded = await loadTaskProblems(arithmetic(2, 20, 5, 'heldOut'));
    assert.equal(loaded.problems.length, 5);
    assert.equal(loaded.skipped.count, 0);
  });

  it('a benchmark spec loads the benchmark', async () => {
    const loaded = await loadTaskProblems({ source: 'benchmark', name: 'amc23' });
    assert.equal(loaded.problems.length, 40);
    assert.equal(loaded.skipped.count, 0);
  });

  it('a file spec loads its rows, skipping and counting a bad one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reasonloop-splits-'));
    const path = join(dir, 'problems.jsonl');
    writeFileSync(
      path,
      [
        JSON.stringify({ problem: 'What is 1+1?', answer: '2' }),
        '{not json',
        JSON.stringify({ problem: 'What is 2+3?', answer: '5' }),
      ].join('\n') + '\n',
    );
    const loaded = await loadTaskProblems({
      source: 'file',
      path,
      problemField: 'problem',
      answerField: 'answer',
      answerFormat: 'plain',
      dedupe: true,
    });
    assert.deepEqual(
      loaded.problems.map((p) => [p.problem, p.answer]),
      [
        ['What is 1+1?', '2'],
        ['What is 2+3?', '5'],
      ],
    );
    assert.equal(loaded.skipped.count, 1);
    assert.match(loaded.skipped.reasons[0], /:2: not valid JSON/);
  });
});
