/** `reasonloop verify` through the real bin shim, as a user runs it. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../../core/data/paths.ts';
import { capture } from './capture.ts';

const run = promisify(execFile);
const BIN = join(REPO_ROOT, 'bin', 'reasonloop');

async function reasonloop(
  args: string[],
  cwd = tmpdir(),
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('one pair: --gold/--pred prints one JSON line with equal and reason', async () => {
  const { code, stdout } = await reasonloop([
    'verify',
    '--gold',
    '\\frac{1}{2}',
    '--pred',
    'so $\\boxed{0.5}$',
  ]);
  assert.equal(code, 0);
  const line = JSON.parse(stdout);
  assert.equal(line.equal, true);
  assert.equal(typeof line.reason, 'string');
  assert.equal(line.gold, '\\frac{1}{2}');
});

test('--cases: one line per case with extra fields kept, bad lines reported, then a summary', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reasonloop-cli-'));
  const file = join(dir, 'cases.jsonl');
  writeFileSync(
    file,
    [
      JSON.stringify({ gold: '3', pred: '\\boxed{3}', id: 'a', expected: 1 }),
      JSON.stringify({ gold: '3', pred: '\\boxed{4}', id: 'b', expected: 1 }),
      'not json',
      JSON.stringify({ gold: 'x \\in [-2,7]', pred: '$-2 \\le x \\le 7$', allow_set_relation_comp: true }),
    ].join('\n'),
  );
  const { code, stdout } = await reasonloop(['verify', '--cases', file]);
  assert.equal(code, 0);
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 5);
  assert.deepEqual(
    lines.slice(0, 2).map((l) => [l.id, l.equal]),
    [
      ['a', true],
      ['b', false],
    ],
  );
  assert.match(lines[2].error, /cases\.jsonl:3: /);
  assert.equal(lines[3].equal, true);
  assert.deepEqual(lines[4], {
    summary: true,
    cases: 3,
    equal: 2,
    notEqual: 1,
    skipped: 1,
    withExpected: 2,
    agree: 1,
    agreement: 0.5,
  });
});

/** The CLI run in this process, with verify's field names. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await capture(args);
  return { code: r.code, stdout: r.out, stderr: r.err };
}

test('usage errors exit with 2 and say what is wrong', async () => {
  const missing = await inProcess(['verify', '--gold', '3']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /need --cases FILE, or both --gold and --pred/);
  const badMode = await inProcess(['verify', '--gold', '3', '--pred', '3', '--mode', 'words']);
  assert.equal(badMode.code, 2);
  assert.match(badMode.stderr, /--mode must be one of latex, expr, latex\+expr \(got words\)/);
  const badFlag = await inProcess(['verify', '--gold', '3', '--pred', '3', '--precision=-1']);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /--precision must be a non-negative integer \(got -1\)/);
  const unknown = await inProcess(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const noFile = await inProcess(['verify', '--cases', '/nonexistent/cases.jsonl']);
  assert.equal(noFile.code, 1);
  assert.match(noFile.stderr, /cannot read \/nonexistent\/cases\.jsonl/);
  const help = await inProcess(['verify', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: reasonloop verify --cases FILE\.jsonl/);
});
