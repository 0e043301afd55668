/**
 * The catalogue of hostile code (issue 8): each snippet must be contained within its limit, end with a
 * clear error (or harmless output) in the output block, and leave the pool serving. Shared by the
 * per-backend test files, which run in parallel.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT } from '../../../core/data/paths.ts';
import { KILL_GRACE_MS } from '../../../core/tools/limits.ts';
import { SandboxPool } from '../../../core/tools/pool.ts';
import { formatOutputBlock } from '../../../core/tools/protocol.ts';
import type { Backend } from '../../../core/tools/runtimes.ts';
import type { SnippetResult } from '../../../core/tools/sandboxProcess.ts';

/** Short limits keep the suite fast; the production default is 5 s. */
const WALL_TIME_MS = 1_500;
/** Below the 1 GiB default so that a memory bomb reaches it quickly (touching memory takes time). */
const MEMORY_BYTES = 512 * 1024 ** 2;
/** Slack for the host to notice the exit and for a loaded CI machine. */
const SLACK_MS = 1_500;
/** A host file that a sandbox escape would create (checked to be absent afterwards). */
const ESCAPE_FILE = join(REPO_ROOT, '.reasonloop-sandbox-escape-check');

interface Case {
  name: string;
  code: string;
  backends: readonly Backend[];
  check: (r: SnippetResult) => void;
  /** A longer limit where the point is another limit (memory), which a loaded machine reaches slowly. */
  timeoutMs?: number;
}

/** Filling 512 MiB takes about half a second on an idle machine and several on a loaded one. */
const MEMORY_BOMB_TIMEOUT_MS = 10_000;

const BOTH: readonly Backend[] = ['pyodide', 'python3'];

function expectError(r: SnippetResult, pattern: RegExp, kinds: readonly string[]) {
  assert.ok(r.error !== null, `expected an error, got output ${JSON.stringify(r.stdout.slice(0, 200))}`);
  assert.match(r.error, pattern);
  assert.ok(kinds.includes(r.errorKind!), `errorKind ${r.errorKind} not in ${kinds.join(', ')}`);
}

const CATALOGUE: Case[] = [
  {
    name: 'an endless loop: `while True: pass`',
    code: 'while True:\n    pass',
    backends: BOTH,
    check: (r) => expectError(r, /TimeoutError/, ['timeout']),
  },
  {
    name: 'a huge integer power inside one C call: `7**(10**8)`',
    code: 'x = 7**(10**8)\nprint(len(str(x)))',
    backends: BOTH,
    check: (r) => expectError(r, /TimeoutError/, ['timeout']),
  },
  {
    name: 'a memory bomb',
    code: 'hoard = []\nwhile True:\n    hoard.append(bytearray(10**8))',
    backends: ['python3'],
    timeoutMs: MEMORY_BOMB_TIMEOUT_MS,
    check: (r) => expectError(r, /MemoryError/, ['memory']),
  },
  {
    // Pyodide's heap grows by wasm memory.grow; it ends in MemoryError or, while still growing, the time limit.
    name: 'a memory bomb (wasm heap)',
    code: 'hoard = []\nwhile True:\n    hoard.append(bytearray(10**8))',
    backends: ['pyodide'],
    check: (r) => expectError(r, /MemoryError|TimeoutError/, ['memory', 'timeout']),
  },
  {
    name: 'a fork bomb',
    code: 'import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)',
    backends: ['python3'],
    check: (r) =>
      expectError(r, /BlockingIOError|Resource temporarily unavailable|TimeoutError/, [
        'exception',
        'timeout',
      ]),
  },
  {
    name: 'reading /etc/passwd',
    code: 'print(open("/etc/passwd").read())',
    backends: BOTH,
    check: (r) => {
      expectError(r, /FileNotFoundError/, ['exception']);
      assert.doesNotMatch(r.stdout, /root:/);
    },
  },
  {
    name: 'writing outside scratch (a host path, and a read-only bind)',
    code: [
      'import os',
      'try:',
      `    open(${JSON.stringify(ESCAPE_FILE)}, "w").write("escaped")`,
      'except OSError as e:',
      '    print(type(e).__name__)',
      '# A read-only bind: sympy (mounted into Pyodide) or our own runner (python3).',
      'site = "/sandbox/site/sympy/__init__.py"',
      'open(site if os.path.exists(site) else "/sandbox/runner.py", "a").write("x")',
    ].join('\n'),
    backends: BOTH,
    check: (r) => {
      expectError(r, /OSError|FileNotFoundError|PermissionError|Read-only/, ['exception']);
      assert.ok(!existsSync(ESCAPE_FILE), `${ESCAPE_FILE} was created on the host`);
    },
  },
  {
    name: 'writing inside scratch works',
    code: 'open("notes.txt", "w").write("ok")\nprint(open("notes.txt").read())',
    backends: BOTH,
    check: (r) => assert.deepEqual([r.stdout, r.error], ['ok\n', null]),
  },
  {
    name: 'filling /tmp (a bounded tmpfs, emptied after the snippet)',
    code: 'for i in range(1000):\n    open(f"/tmp/f{i}", "wb").write(b"x" * 10**6)',
    backends: ['python3'],
    check: (r) => expectError(r, /No space left on device/, ['exception']),
  },
  {
    name: 'files do not pass from one snippet to the next',
    code: 'import os\nprint(os.listdir("/tmp"), os.listdir("."), os.getcwd())',
    backends: ['python3'],
    check: (r) => assert.deepEqual([r.stdout, r.error], ['[] [] /scratch\n', null]),
  },
  {
    name: 'opening a socket',
    code: 'import socket\nsocket.create_connection(("1.1.1.1", 80), timeout=1)',
    backends: BOTH,
    check: (r) => expectError(r, /OSError|unreachable|timed out|gaierror/i, ['exception']),
  },
  {
    name: 'resolving a host name',
    code: 'import socket\nprint(socket.getaddrinfo("registry.npmjs.org", 443))',
    backends: ['python3'],
    check: (r) => expectError(r, /gaierror|OSError/, ['exception']),
  },
  {
    name: '`import os; os.system(...)` runs nothing',
    code: 'import os\nprint(os.system("id > /scratch/pwned"))\nprint(os.path.exists("/scratch/pwned"))',
    backends: BOTH,
    check: (r) => {
      assert.equal(r.error, null);
      const [status, created] = r.stdout.trim().split('\n');
      assert.notEqual(Number(status), 0, 'os.system succeeded');
      assert.equal(created, 'False');
    },
  },
  {
    name: 'printing 10 MB',
    code: 'print("x" * 10_000_000)',
    backends: BOTH,
    check: (r) => {
      assert.equal(r.error, null);
      assert.equal(r.stdoutChars, 10_000_001);
      const block = formatOutputBlock(r, 400);
      assert.ok(block.length < 430, `output block of ${block.length} characters`);
      assert.match(block, /x…\n```\n$/);
    },
  },
  {
    name: 'deep recursion',
    code: 'def f(n):\n    return f(n + 1)\nf(0)',
    backends: BOTH,
    check: (r) => expectError(r, /RecursionError/, ['exception']),
  },
  {
    name: 'deep recursion past a raised recursion limit',
    code: 'import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\nf(0)',
    backends: BOTH,
    // How a blown native stack surfaces depends on the runtime (Python's RecursionError or MemoryError,
    // a limit kill, or, in Pyodide under Node 24, the JS engine's own stack error): any error is containment.
    check: (r) => assert.ok(r.error !== null, `expected an error, got output ${JSON.stringify(r.stdout)}`),
  },
  {
    name: "Pyodide's JS bridge: `import js; js.process`",
    code: 'import js\nprint(js.process.env)',
    backends: ['pyodide'],
    check: (r) => expectError(r, /AttributeError/, ['exception']),
  },
  {
    name: "Pyodide's JS bridge: `js.fetch`",
    code: 'import js\njs.fetch("https://registry.npmjs.org/")',
    backends: ['pyodide'],
    check: (r) => expectError(r, /AttributeError/, ['exception']),
  },
  {
    // DESIGN.md §4: this read the host's /etc/hostname without the jail. In the jail NODEFS sees only binds.
    name: "Pyodide's JS bridge: `import pyodide_js` + FS.mount(NODEFS) of the host's root",
    code: [
      'import os, pyodide_js',
      'from pyodide.ffi import to_js',
      'FS = pyodide_js.FS',
      'FS.mkdirTree("/host")',
      'FS.mount(FS.filesystems.NODEFS, FS.constructor.fromEntries(to_js([["root", "/"]])), "/host")',
      'print(sorted(os.listdir("/host")))',
      `print(os.path.exists("/host${REPO_ROOT}"), os.path.exists("/host/etc"), os.path.exists("/host/home"))`,
      'print(open("/host/etc/passwd").read())',
    ].join('\n'),
    backends: ['pyodide'],
    check: (r) => {
      expectError(r, /FileNotFoundError/, ['exception']);
      assert.match(r.stdout, /False False False/);
      assert.doesNotMatch(r.stdout, /'etc'|'home'/);
    },
  },
];

/** Registers the catalogue's tests for one backend, on one pool that must keep serving throughout. */
export function hostileCatalogueTests(backend: Backend): void {
  let pool: SandboxPool;
  before(async () => {
    pool = await SandboxPool.create({
      backend,
      size: 2,
      limits: { wallTimeMs: WALL_TIME_MS, memoryBytes: MEMORY_BYTES },
    });
  });
  after(async () => {
    await pool?.close();
    rmSync(ESCAPE_FILE, { force: true });
  });

  for (const c of CATALOGUE.filter((c) => c.backends.includes(backend))) {
    test(`${backend}: ${c.name} is contained and the pool still serves`, async () => {
      const limit = c.timeoutMs ?? WALL_TIME_MS;
      const r = await pool.run(c.code, { timeoutMs: limit });
      c.check(r);
      assert.ok(
        r.wallMs < limit + KILL_GRACE_MS + SLACK_MS,
        `took ${r.wallMs.toFixed(0)} ms, limit ${limit} ms`,
      );
      const block = formatOutputBlock(r);
      assert.ok(block.length <= 400 + '```output\n\n```\n'.length, 'output block over the limit');
      const next = await pool.run('print(6 * 7)');
      assert.deepEqual([next.stdout, next.error], ['42\n', null]);
    });
  }

  test(`${backend}: metrics count calls, errors and time in the sandbox`, () => {
    const m = pool.metrics();
    assert.ok(m.toolCalls >= CATALOGUE.filter((c) => c.backends.includes(backend)).length);
    assert.ok(m.toolErrors > 0 && m.toolTimeouts > 0 && m.sandboxMs > 0);
  });
}
