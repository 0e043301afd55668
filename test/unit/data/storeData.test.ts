/** core/data/storeData.ts: a problem file read from a store key as a `file` source reads a local file. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { loadProblems } from '../../../core/data/load.ts';
import { loadStoreProblems } from '../../../core/data/storeData.ts';
import { openStore } from '../../../core/store/index.ts';
import { taskDataSchema } from '../../../core/config/task.ts';
import { loadTaskProblems } from '../../../core/data/splits.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-store-data-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

const ROWS =
  '{"id":"a","problem":"p1","answer":"1"}\nnot json\n{"id":"b","problem":"p2","answer":"2"}\n{"id":"c","problem":"p1","answer":"1"}\n';

it('loads the same problems, skips and duplicates as the file it holds, naming the object in reasons', async () => {
  const local = join(DIR, 'rows.jsonl');
  writeFileSync(local, ROWS);
  const url = join(DIR, 'store');
  await openStore(url).put('filters/f/x/filtered.jsonl', new TextEncoder().encode(ROWS));
  const fields = { problemField: 'problem', answerField: 'answer', idField: 'id' };
  const fromStore = await loadStoreProblems({ url, key: 'filters/f/x/filtered.jsonl', ...fields });
  const fromFile = await loadProblems({ path: local, ...fields });
  assert.deepEqual(fromStore.problems, fromFile.problems);
  assert.deepEqual(
    fromStore.problems.map((p) => p.id),
    ['a', 'b'],
  );
  assert.equal(fromStore.duplicates, 1);
  assert.equal(fromStore.skipped.count, 1);
  assert.match(fromStore.skipped.reasons[0], /store filters\/f\/x\/filtered\.jsonl:2: not valid JSON/);
  await assert.rejects(
    loadStoreProblems({ url, key: 'filters/none.jsonl', ...fields }),
    /filters\/none\.jsonl not found/,
  );
});

it('a math task names a store object as its data (the difficulty filter output, used directly)', async () => {
  const url = join(DIR, 'task-store');
  await openStore(url).put('filters/f/kept.jsonl', new TextEncoder().encode(ROWS));
  const data = taskDataSchema.parse({
    source: 'store',
    url,
    key: 'filters/f/kept.jsonl',
    answerField: 'answer',
  });
  const loaded = await loadTaskProblems(data);
  assert.deepEqual(
    loaded.problems.map((p) => p.problem),
    ['p1', 'p2'],
  );
  assert.equal(loaded.skipped.count, 1);
  assert.throws(
    () => taskDataSchema.parse({ source: 'store', url, key: 'k.jsonl', answerField: 'answer', bucket: 'x' }),
    /bucket/,
  );
});
