/** `reasonloop filter`: usage errors, validation before any connection, the temporal line, the summary. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_USAGE } from '../../../cli/command.ts';
import { filteredDataSource, filterWorkflowId, formatFilterSummary } from '../../../cli/commands/filter.ts';
import { FILTERED_DATA_FIELDS } from '../../../core/data/difficulty.ts';
import { capture } from './capture.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-filter-cli-'));

function configFile(name: string, overrides: Record<string, unknown> = {}): string {
  const path = join(DIR, name);
  const config = {
    filterId: 'f-cli',
    model: { checkpoint: { runId: 'sft1', step: 3 } },
    task: {
      kind: 'math',
      data: {
        source: 'synthetic',
        task: { kind: 'arithmetic', knobs: { digits: 2, terms: 2, ops: ['+'] } },
        size: 20,
      },
      prompt: { template: 'plain' },
    },
    store: { url: join(DIR, 'store') },
    ...overrides,
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe('reasonloop filter', () => {
  let saved: string | undefined;
  before(() => {
    saved = process.env.TEMPORAL_ADDRESS;
    // Nothing listens here: a command that tried to connect would fail or hang, not pass.
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = saved;
  });

  it('usage errors exit 2 and name the problem', async () => {
    assert.match((await capture(['filter'])).err, /name exactly one config file/);
    assert.match((await capture(['filter', 'a.json', 'b.json'])).err, /name exactly one config file/);
    const json = await capture(['filter', 'f.json', '--json']);
    assert.equal(json.code, EXIT_USAGE);
    assert.match(json.err, /--json prints the summary: it needs --wait/);
    assert.match(
      (await capture(['filter', 'f.json', '--download', 'x.jsonl'])).err,
      /--download .* needs --wait/,
    );
    assert.equal((await capture(['filter', '--nope'])).code, EXIT_USAGE);
  });

  it('a bad config fails with the path-naming message before anything is contacted', async () => {
    const started = Date.now();
    const r = await capture([
      'filter',
      configFile('bad.json', { sampling: { samples: 0 }, extra: 1 }),
      '--wait',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.err, /filter\.sampling\.samples must be a positive integer \(got 0\)/);
    assert.match(r.err, /filter: unknown key "extra"/);
    assert.ok(Date.now() - started < 5000, 'answered without waiting on a connection');
    const dir = await capture(['filter', configFile('dir.json', { model: { dir: join(DIR, 'nothing') } })]);
    assert.match(dir.err, /filter\.model\.dir .*nothing: not an HF model directory \(no config\.json\)/);
  });

  it('--check validates and prints the temporal line with a fresh <filterId>-<timestamp> id', async () => {
    const file = configFile('good.json');
    for (const argv of [
      ['filter', file, '--check'],
      ['filter', '--config', file, '--check'],
    ]) {
      const r = await capture(argv);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /filter config .*good\.json: ok \(filter f-cli/);
      assert.match(
        r.out.split('\n').find((l) => l.startsWith('equivalent: ')) ?? '',
        /^equivalent: temporal workflow start --type difficultyFilter --task-queue reasonloop --workflow-id f-cli-\d{8}T\d{6}\.\d{3}Z --input-file \S+good\.json$/,
      );
    }
    assert.equal(filterWorkflowId('f', new Date('2026-11-25T12:21:37.123Z')), 'f-20261125T122137.123Z');
  });

  it('the summary gives the counts and where the files are; the data source reads the rows back', () => {
    const text = formatFilterSummary({
      filterId: 'f',
      model: 'checkpoint:sft1@3',
      step: 3,
      samples: 8,
      total: 20,
      kept: 11,
      tooEasy: 5,
      tooHard: 4,
      skippedRows: 2,
      meanPassRate: 0.5125,
      storeUrl: 's3://b/p',
      passRatesKey: 'filters/f/x/pass-rates.jsonl',
      filteredKey: 'filters/f/x/filtered.jsonl',
      summaryKey: 'filters/f/x/summary.json',
      fields: FILTERED_DATA_FIELDS,
    });
    assert.match(text, /^difficulty filter f: checkpoint:sft1@3\n/);
    assert.match(text, /problems +20 × 8 samples \(2 bad rows skipped\)/);
    assert.match(text, /kept +11 \(pass rate >0 … <1\)/);
    assert.match(text, /too easy +5\n +too hard +4/);
    assert.match(text, /filtered data +s3:\/\/b\/p filters\/f\/x\/filtered\.jsonl/);
    assert.deepEqual(filteredDataSource('/d/f.jsonl'), {
      source: 'file',
      path: '/d/f.jsonl',
      problemField: 'problem',
      answerField: 'answer',
      idField: 'id',
      answerFormat: 'plain',
      dedupe: false,
    });
  });
});
