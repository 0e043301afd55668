/** `reasonloop sandbox run FILE.py` through the real bin shim, as a user checks their sandbox settings. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../../core/data/paths.ts';
import { findOnPath } from '../../../core/tools/isolation.ts';

const execFileAsync = promisify(execFile);
const BIN = join(REPO_ROOT, 'bin', 'reasonloop');
const tmp = mkdtempSync(join(tmpdir(), 'sandbox-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function reasonloop(args: string[], env: NodeJS.ProcessEnv = process.env) {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], { cwd: tmp, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function file(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

test('python3 backend: prints the output block the model would see (sympy from the OS works)', async () => {
  const py = file('ok.py', 'import sympy\nx = sympy.Symbol("x")\nprint(sympy.factor(x**2 - 1))\n');
  const { code, stdout, stderr } = await reasonloop(['sandbox', 'run', py, '--backend', 'python3']);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, '```output\n(x - 1)*(x + 1)\n```\n');
  assert.match(stderr, /backend python3/);
});

test('default backend (pyodide): an error is an output block and exit code 1; --timeout applies', async () => {
  const py = file('loop.py', 'print("start")\nwhile True:\n    pass\n');
  const { code, stdout, stderr } = await reasonloop(['sandbox', 'run', py, '--timeout', '1']);
  assert.equal(code, 1, stderr);
  assert.match(stdout, /^```output\n(start\n)?TimeoutError.*\n```\n$/);
  assert.match(stderr, /backend pyodide, .* error: timeout/);
});

test('usage errors name the problem', async () => {
  const r1 = await reasonloop(['sandbox', 'run', 'a.py', '--backend', 'ruby']);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /--backend must be one of pyodide, python3 \(got ruby\)/);
  const r2 = await reasonloop(['sandbox', 'run', file('x.py', ''), '--timeout', '0']);
  assert.match(r2.stderr, /--timeout must be a positive number \(got 0\)/);
  const r3 = await reasonloop(['sandbox', 'exec']);
  assert.match(r3.stderr, /unknown action "exec"/);
});

test('without bubblewrap the sandbox refuses and says what is missing; --unsafe-no-isolation opts out', async () => {
  // A PATH with what the unsafe mode needs (prlimit, ldd) but no bwrap.
  const bin = join(tmp, 'bin');
  rmSync(bin, { recursive: true, force: true });
  await execFileAsync('mkdir', ['-p', bin]);
  for (const tool of ['prlimit', 'ldd']) symlinkSync(findOnPath(tool)!, join(bin, tool));
  const env = { ...process.env, PATH: bin };
  const py = file('hi.py', 'print("hi")\n');
  const refused = await reasonloop(['sandbox', 'run', py, '--backend', 'python3'], env);
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /bubblewrap \(`bwrap`\) is not on PATH.*Refusing/s);
  assert.match(refused.stderr, /apt-get install bubblewrap/);
  const unsafe = await reasonloop(
    ['sandbox', 'run', py, '--backend', 'python3', '--unsafe-no-isolation'],
    env,
  );
  assert.equal(unsafe.code, 0, unsafe.stderr);
  assert.equal(unsafe.stdout, '```output\nhi\n```\n');
  assert.match(unsafe.stderr, /isolation is OFF/);
});
