/** core/data/solutions.ts: worked-solution rows from JSONL, a JSON array or parquet; bad rows skipped and counted. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sharedDataDir } from '../../../core/data/paths.ts';
import { loadSolutions, parseJsonArrayOrLines, rowsToSolutions } from '../../../core/data/solutions.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-solutions-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

const FIELDS = { problemField: 'problem', solutionField: 'solution' };

describe('rowsToSolutions', () => {
  it('keeps rows with both texts, skips and counts the rest with reasons', () => {
    const read = rowsToSolutions(
      [
        { problem: 'Compute $1+1$.', solution: '1+1=2, so \\boxed{2}.' },
        { problem: '', solution: 'x' },
        { problem: 'no solution' },
        { problem: 'numeric solution', solution: 4 },
        { meta: { q: 'nested' }, solution: 'ok', key: 7 },
      ],
      FIELDS,
      'f.jsonl',
    );
    assert.deepEqual(read.examples, [
      { id: 'f.jsonl:0', problem: 'Compute $1+1$.', solution: '1+1=2, so \\boxed{2}.' },
    ]);
    assert.equal(read.skipped.count, 4);
    assert.deepEqual(read.skipped.reasons.slice(0, 3), [
      'f.jsonl row 2: field "problem" is missing or not text',
      'f.jsonl row 3: field "solution" is missing or not text',
      'f.jsonl row 4: field "solution" is missing or not text',
    ]);
    const nested = rowsToSolutions([{ meta: { q: 'nested' }, solution: 'ok', key: 7 }], {
      problemField: 'meta.q',
      solutionField: 'solution',
      idField: 'key',
    });
    assert.deepEqual(nested.examples, [{ id: '7', problem: 'nested', solution: 'ok' }]);
  });
});

describe('loadSolutions', () => {
  it('reads JSON Lines, skipping lines that are not JSON objects', async () => {
    const path = join(DIR, 'a.jsonl');
    writeFileSync(
      path,
      ['{"problem":"p1","solution":"s1"}', 'not json', '[1]', '{"problem":"p2","solution":"s2"}', ''].join(
        '\n',
      ),
    );
    const read = await loadSolutions({ path, ...FIELDS });
    assert.deepEqual(
      read.examples.map((e) => [e.problem, e.solution]),
      [
        ['p1', 's1'],
        ['p2', 's2'],
      ],
    );
    assert.equal(read.skipped.count, 2);
  });

  it('reads a .json file holding one array (and a .json file of lines)', async () => {
    const array = join(DIR, 'b.json');
    writeFileSync(array, JSON.stringify([{ q: 'p1', a: 's1' }, 3, { q: 'p2' }], null, 2));
    const read = await loadSolutions({ path: array, problemField: 'q', solutionField: 'a' });
    assert.deepEqual(read.examples, [{ id: `${array}:0`, problem: 'p1', solution: 's1' }]);
    assert.equal(read.skipped.count, 2);
    assert.match(read.skipped.reasons[0], /b\.json\[1\]: not a JSON object/);
    const lines = join(DIR, 'c.json');
    writeFileSync(lines, '{"problem":"p","solution":"s"}\n');
    assert.equal((await loadSolutions({ path: lines, ...FIELDS })).examples.length, 1);
    assert.throws(() => parseJsonArrayOrLines('[{"a":1}', 'x.json'), /x\.json: not valid JSON/);
  });

  it('reads a parquet file written by pandas/pyarrow, field names configurable', async () => {
    const path = join(sharedDataDir(), 'fixtures', 'math500_prompts.parquet');
    const read = await loadSolutions({ path, problemField: 'problem', solutionField: 'answer' });
    assert.equal(read.examples.length + read.skipped.count, 500);
    assert.equal(read.skipped.count, 0);
    assert.match(read.examples[0].problem, /Convert the point \$\(0,3\)\$ in rectangular coordinates/);
  });
});
