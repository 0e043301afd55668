/**
 * Math code in the default backend, offline: Pyodide in the jail imports the OS's pure-Python sympy and
 * mpmath. Slow (the first import compiles sympy inside WebAssembly), hence not in the unit suite.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SandboxPool } from '../../../core/tools/pool.ts';

/** A cold sympy import in Pyodide took 3–15 s on a loaded 2-core machine. */
const SYMPY_IMPORT_MS = 90_000;

let pool: SandboxPool;
before(async () => {
  pool = await SandboxPool.create({ backend: 'pyodide', size: 1 });
});
after(() => pool?.close());

test('pyodide: sympy factors, integrates and solves; mpmath computes pi to 30 digits', async () => {
  const code = [
    'import sympy, mpmath',
    'x = sympy.Symbol("x")',
    'print(sympy.factor(x**2 - 1))',
    'print(sympy.integrate(x * sympy.exp(x), x))',
    'print(sorted(sympy.solve(x**2 - 5*x + 6, x)))',
    'mpmath.mp.dps = 30',
    'print(mpmath.pi)',
  ].join('\n');
  const r = await pool.run(code, { timeoutMs: SYMPY_IMPORT_MS });
  assert.equal(r.error, null, r.error ?? '');
  assert.equal(r.stdout, '(x - 1)*(x + 1)\n(x - 1)*exp(x)\n[2, 3]\n3.14159265358979323846264338328\n');
  // Warm now: the same import is cached in the process.
  const again = await pool.run('import sympy\nprint(sympy.isprime(2**61 - 1))');
  assert.deepEqual([again.stdout, again.error], ['True\n', null]);
});
