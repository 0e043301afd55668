/** The dispatcher: a registry of {name, describe, run}. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { main, usage } from '../../../cli/reasonloop.ts';
import type { Command } from '../../../cli/command.ts';
import { COMMANDS } from '../../../cli/commands/index.ts';

test('dispatches to the named command with the remaining arguments', async () => {
  const calls: string[][] = [];
  const fake: Command = {
    name: 'echo',
    describe: 'records its arguments',
    run: async (argv) => {
      calls.push(argv);
      return 7;
    },
  };
  assert.equal(await main(['echo', 'a', '--b'], [fake]), 7);
  assert.deepEqual(calls, [['a', '--b']]);
});

test('usage lists every registered command; names are unique', () => {
  const text = usage();
  for (const c of COMMANDS) assert.ok(text.includes(c.name) && text.includes(c.describe));
  assert.equal(new Set(COMMANDS.map((c) => c.name)).size, COMMANDS.length);
});
