/** The jail's command line and the checks that decide how (or whether) it can start. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { jailCommand, unreadableByOthers, type JailSpec } from '../../../core/tools/isolation.ts';
import { resolveLimits } from '../../../core/tools/limits.ts';
import { python3Spec } from '../../../core/tools/runtimes.ts';

const tmp = mkdtempSync(join(tmpdir(), 'isolation-test-'));
chmodSync(tmp, 0o755);
after(() => rmSync(tmp, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

test('jail command: all namespaces, no inherited environment, read-only root, limits from prlimit', () => {
  const argv = jailCommand(python3Spec(), resolveLimits({ memoryBytes: 2 ** 29 }), 'bwrap', 1_900_123);
  const line = argv.join(' ');
  for (const flag of ['--unshare-all', '--die-with-parent', '--new-session', '--clearenv', '--remount-ro /'])
    assert.ok(line.includes(flag), `missing ${flag}`);
  assert.ok(line.includes(`--as=${2 ** 29}`), 'address-space limit for CPython');
  assert.ok(!/--bind /.test(line), 'a writable bind');
  assert.ok(/--tmpfs \/scratch --chdir \/scratch|--chdir \/scratch/.test(line));
  if (isRoot) {
    assert.deepEqual(argv.slice(0, 2), ['setpriv', '--reuid=1900123']);
    assert.ok(line.includes('--nproc=256'), 'process limit for the sandbox user');
  }
  const unsafe = jailCommand(python3Spec(), resolveLimits(), 'none-unsafe', 1);
  assert.equal(unsafe[0], 'prlimit');
  assert.ok(!unsafe.includes('bwrap'));
});

test('unreadableByOthers: a private folder on the way, or a file without o+r', () => {
  const open = join(tmp, 'open');
  const closed = join(tmp, 'closed');
  mkdirSync(open);
  mkdirSync(closed);
  writeFileSync(join(open, 'f'), 'x');
  writeFileSync(join(closed, 'f'), 'x');
  writeFileSync(join(open, 'secret'), 'x');
  chmodSync(closed, 0o700);
  chmodSync(join(open, 'secret'), 0o600);
  assert.deepEqual(unreadableByOthers([join(open, 'f'), join(closed, 'f'), join(open, 'secret')]), [
    join(closed, 'f'),
    join(open, 'secret'),
  ]);
});

test('a backend that can fork is refused (with the path named) when the sandbox user cannot read a bind', (t) => {
  if (!isRoot) return t.skip('only a root host switches to the sandbox user');
  const hidden = join(tmp, 'hidden');
  mkdirSync(hidden);
  chmodSync(hidden, 0o700);
  const spec: JailSpec = { ...python3Spec(), binds: [{ host: hidden, jail: '/x' }] };
  assert.throws(() => jailCommand(spec, resolveLimits(), 'bwrap', 1), new RegExp(`cannot read ${hidden}`));
  const pyodideLike = jailCommand({ ...spec, canFork: false }, resolveLimits(), 'bwrap', 1);
  assert.equal(pyodideLike[0], 'prlimit', 'runs as root mapped to nobody, without setpriv');
  assert.ok(pyodideLike.join(' ').includes('--unshare-user --uid 65534'));
});
