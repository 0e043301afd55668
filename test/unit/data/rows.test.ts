import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadProblems } from '../../../core/data/load.ts';
import { sharedDataDir } from '../../../core/data/paths.ts';
import { answerText, dedupeProblems, rowsToProblems } from '../../../core/data/problems.ts';
import { parseJsonl, readParquet, readRows } from '../../../core/data/rows.ts';
import { loadSolutions } from '../../../core/data/solutions.ts';

test('JSONL: bad lines are skipped and counted, the first few reasons kept', () => {
  const text = ['{"q":"a","a":1}', 'not json', '', '[1,2]', '{"q":"b","a":2}', ...Array(10).fill('{')].join(
    '\n',
  );
  const { rows, skipped } = parseJsonl(text, 'x.jsonl');
  assert.equal(rows.length, 2);
  assert.equal(skipped.count, 12);
  assert.equal(skipped.reasons.length, 5);
  assert.match(skipped.reasons[0], /^x\.jsonl:2: not valid JSON/);
  assert.match(skipped.reasons[1], /^x\.jsonl:4: not a JSON object/);
});

test('rows → problems with configurable fields; answers of any JSON type become text', () => {
  const rows = [
    { id: 7, meta: { question: 'What is 2+2?' }, ans: 4.0 },
    { id: 8, meta: { question: 'Name it' }, ans: ['\\frac12'] },
    { id: 9, meta: {}, ans: 1 },
    { id: 10, meta: { question: 'No answer' } },
    { id: 11, meta: { question: 'From solution' }, sol: 'We get $\\boxed{\\sqrt{2}}$.' },
  ];
  const { problems, skipped, answerSources } = rowsToProblems(
    rows,
    { problemField: 'meta.question', answerField: 'ans', solutionField: 'sol', idField: 'id' },
    'd',
  );
  assert.deepEqual(
    problems.map((p) => [p.id, p.answer]),
    [
      ['7', '4'],
      ['8', '\\frac12'],
      ['11', '\\sqrt{2}'],
    ],
  );
  assert.equal(skipped.count, 2);
  assert.match(skipped.reasons[0], /d row 3: field "meta.question" is missing/);
  assert.match(skipped.reasons[1], /d row 4: no answer in "ans" or "sol"/);
  assert.deepEqual(answerSources, { ans: 2, 'sol (last \\boxed{})': 1 });
  assert.equal(answerText(27.0), '27');
  assert.equal(answerText({ a: 1 }), undefined);
});

test('GSM8K-style answers: the number after ####', () => {
  const { problems } = rowsToProblems([{ q: 'x', a: 'She pays 2*3=<<2*3=6>>6.\n#### 1,234' }], {
    problemField: 'q',
    answerField: 'a',
    answerFormat: 'gsm8k',
  });
  assert.equal(problems[0].answer, '1234');
});

test('duplicates (same statement up to case and spacing) are removed, the first kept', () => {
  const { problems, duplicates } = dedupeProblems([
    { id: 'a', problem: 'What is  2+2?', answer: '4' },
    { id: 'b', problem: 'what is 2+2?', answer: '4' },
    { id: 'c', problem: 'What is 3+3?', answer: '6' },
  ]);
  assert.deepEqual(
    problems.map((p) => p.id),
    ['a', 'c'],
  );
  assert.equal(duplicates, 1);
});

test('parquet: reads a pandas/pyarrow (snappy) file we did not write', async () => {
  const path = join(sharedDataDir(), 'fixtures', 'math500_prompts.parquet');
  const { rows } = await readParquet(path);
  assert.equal(rows.length, 500);
  assert.equal(typeof rows[0].problem, 'string');
  assert.ok((rows[0].problem as string).startsWith('Return your final response within \\boxed{}.'));
  const loaded = await loadProblems({ path, problemField: 'problem', answerField: 'answer' });
  assert.equal(loaded.problems.length + loaded.duplicates, 500);
  assert.equal(loaded.skipped.count, 0);
});

test('loadProblems: JSONL file end to end, unknown formats refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reasonloop-data-'));
  const path = join(dir, 'd.jsonl');
  writeFileSync(path, '{"p":"a","x":"1"}\n{"p":"a","x":"1"}\nbroken\n{"p":"b"}\n');
  const loaded = await loadProblems({ path, problemField: 'p', answerField: 'x' });
  assert.equal(loaded.problems.length, 1);
  assert.equal(loaded.duplicates, 1);
  assert.equal(loaded.skipped.count, 2);
  await assert.rejects(readRows(join(dir, 'd.csv')), /unknown data format/);
});

test('a .json problem file holding an array is read as one; JSON Lines in .json still work; the format is said', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rows-json-'));
  const array = join(dir, 'problems.json');
  writeFileSync(
    array,
    JSON.stringify(
      [
        { problem: 'What is 2+2?', answer: '4' },
        { problem: 'What is 3·3?', answer: 9 },
        [1, 2],
        { problem: 'No answer' },
      ],
      null,
      2,
    ),
  );
  const loaded = await loadProblems({ path: array, problemField: 'problem', answerField: 'answer' });
  assert.equal(loaded.format, 'json-array');
  assert.deepEqual(
    loaded.problems.map((p) => [p.problem, p.answer]),
    [
      ['What is 2+2?', '4'],
      ['What is 3·3?', '9'],
    ],
  );
  assert.equal(loaded.skipped.count, 2, 'the non-object item and the row without an answer');
  assert.match(loaded.skipped.reasons[0], /problems\.json\[2\]: not a JSON object/);

  const lines = join(dir, 'lines.json');
  writeFileSync(lines, '{"problem":"a","answer":1}\n{"problem":"b","answer":2}\n');
  const fromLines = await loadProblems({ path: lines, problemField: 'problem', answerField: 'answer' });
  assert.equal(fromLines.format, 'jsonl');
  assert.equal(fromLines.problems.length, 2);

  const scalar = join(dir, 'scalar.json');
  writeFileSync(scalar, '[1, 2');
  await assert.rejects(readRows(scalar), /scalar\.json: not valid JSON/);
  const object = join(dir, 'object.json');
  writeFileSync(object, '{"problems": []}');
  assert.equal(
    (await readRows(object)).format,
    'jsonl',
    'one object on a line is a JSON Lines file of one row',
  );
});

test('bad rows (malformed JSON, invalid UTF-8, missing fields) are skipped and counted the same by every loader', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reasonloop-rows-utf8-'));
  const good = Buffer.from('{"problem":"1+1?","answer":"2","solution":"\\\\boxed{2}"}\n');
  const bytes = Buffer.concat([
    good,
    Buffer.from('{"problem":"caf'),
    Buffer.from([0xc3, 0x28]), // an invalid two-byte sequence
    Buffer.from('?","answer":"1","solution":"x"}\n{not json\n{"answer":"3","solution":"y"}\n'),
    good,
  ]);
  const path = join(dir, 'mixed.jsonl');
  writeFileSync(path, bytes);
  const problems = await loadProblems({
    path,
    problemField: 'problem',
    answerField: 'answer',
    dedupe: false,
  });
  const solutions = await loadSolutions({ path, problemField: 'problem', solutionField: 'solution' });
  for (const skipped of [problems.skipped, solutions.skipped]) {
    assert.equal(skipped.count, 3);
    assert.match(skipped.reasons[0], /mixed\.jsonl:2: not valid UTF-8/);
    assert.match(skipped.reasons[1], /mixed\.jsonl:3: not valid JSON/);
    assert.match(skipped.reasons[2], /"problem"/);
  }
  assert.equal(problems.problems.length, 2);
  assert.equal(solutions.examples.length, 2);
});
