/** What the subcommands share to read their command line: parseOptions, usageError, readConfigFile. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EXIT_USAGE, parseOptions, readConfigFile } from '../../../cli/command.ts';

const USAGE = { name: 'demo', help: 'usage: reasonloop demo --config FILE' };
const OPTIONS = { config: { type: 'string' }, wait: { type: 'boolean' } } as const;

/** Runs `f` with console.log / console.error collected. */
function printed<T>(f: () => T): { value: T; out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  try {
    return { value: f(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

describe('parseOptions', () => {
  it('returns the values of a good command line, printing nothing', () => {
    const r = printed(() => parseOptions(USAGE, ['--config', 'a.json', '--wait'], OPTIONS));
    assert.ok('values' in r.value);
    // parseArgs's values object has no prototype: compare its entries.
    assert.deepEqual({ ...r.value.values }, { config: 'a.json', wait: true });
    assert.equal(r.out + r.err, '');
  });

  it('--help and -h print the help and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const r = printed(() => parseOptions(USAGE, ['--config', 'a.json', flag], OPTIONS));
      assert.deepEqual(r.value, { exit: 0 });
      assert.equal(r.out, USAGE.help);
    }
  });

  it('an unknown option or a positional is a usage error naming the command, with the help', () => {
    for (const argv of [['--nope'], ['extra'], ['--config']]) {
      const r = printed(() => parseOptions(USAGE, argv, OPTIONS));
      assert.deepEqual(r.value, { exit: EXIT_USAGE }, argv.join(' '));
      assert.match(r.err, /^reasonloop demo: /);
      assert.ok(r.err.endsWith(`\n\n${USAGE.help}`));
    }
  });
});

describe('readConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reasonloop-cli-command-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses JSON; a missing or broken file is named', () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, '{"a":1}');
    assert.deepEqual(readConfigFile(good), { a: 1 });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{a:');
    assert.throws(() => readConfigFile(bad), new RegExp(`--config ${bad}: not valid JSON`));
    assert.throws(() => readConfigFile(join(dir, 'none.json')), /--config .*none\.json: ENOENT/);
  });
});
