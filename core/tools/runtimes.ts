/**
 * The two backends, as jail specs: Pyodide (CPython in WebAssembly on Node; the default) and the host's
 * native python3. Each spec lists the read-only binds its interpreter needs and nothing else.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOnPath, type Bind, type JailSpec } from './isolation.ts';

export type Backend = 'pyodide' | 'python3';
export const BACKENDS: readonly Backend[] = ['pyodide', 'python3'];

/** Files of ours that run inside the jail (entry points and the shared snippet runner). */
const JAIL_SOURCES = fileURLToPath(new URL('./jail/', import.meta.url));
/** Where our files, Pyodide and the site packages appear inside the jail. */
const JAIL_ROOT = '/sandbox';
/** Debian's python3-sympy / python3-mpmath install here; pure Python, so Pyodide can import them. */
export const DEBIAN_DIST_PACKAGES = '/usr/lib/python3/dist-packages';
/** Pure-Python packages bound into Pyodide so that math code runs offline (Pyodide bundles neither). */
export const PYODIDE_SITE_PACKAGES = ['sympy', 'mpmath'] as const;

/**
 * Writable address space Node reserves before running anything (counted by RLIMIT_DATA): measured with
 * `prlimit --data`, Node 20 starts under 128 MiB and Node 24 needs ≈768 MiB (V8's code range).
 */
export const NODE_RESERVED_DATA_BYTES = 1024 ** 3;

export interface RuntimeOptions {
  /** python3 backend: the interpreter (default /usr/bin/python3, else python3 on PATH). */
  python?: string;
  /** Pyodide backend: the folder holding sympy/ and mpmath/ (default Debian's dist-packages). */
  sitePackagesDir?: string;
}

/** Shared libraries a binary loads (from `ldd`), as the folders that hold them. */
export function libraryDirs(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const dirs = new Set<string>();
  for (const match of out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) {
    dirs.add(dirname(match[1]));
    dirs.add(dirname(realpathSync(match[1])));
  }
  return [...dirs];
}

const sameBind = (path: string): Bind => ({ host: path, jail: path });

function jailFile(name: string): Bind {
  return { host: join(JAIL_SOURCES, name), jail: `${JAIL_ROOT}/${name}` };
}

export function pyodideSpec(opts: RuntimeOptions = {}): JailSpec {
  const node = realpathSync(process.execPath);
  const pyodideDir = dirname(createRequire(import.meta.url).resolve('pyodide/package.json'));
  const site = opts.sitePackagesDir ?? DEBIAN_DIST_PACKAGES;
  const siteBinds = PYODIDE_SITE_PACKAGES.filter((p) => existsSync(join(site, p))).map((p) => ({
    host: join(site, p),
    jail: `${JAIL_ROOT}/site/${p}`,
  }));
  const entry = join(JAIL_SOURCES, 'pyodide.mjs');
  return {
    command: [node, `${JAIL_ROOT}/pyodide.mjs`, `${JAIL_ROOT}/pyodide`, `${JAIL_ROOT}/site`],
    binds: [
      sameBind(node),
      ...libraryDirs(node).map(sameBind),
      jailFile('pyodide.mjs'),
      jailFile('runner.py'),
      { host: pyodideDir, jail: `${JAIL_ROOT}/pyodide` },
      ...siteBinds,
    ],
    memoryLimit: 'data',
    memoryOverheadBytes: NODE_RESERVED_DATA_BYTES,
    canFork: false,
    unjailedCommand: [node, entry, pyodideDir, site],
  };
}

interface PythonLayout {
  executable: string;
  path: string[];
}

const layouts = new Map<string, PythonLayout>();
/** The interpreter's real path and the folders on its sys.path (asked once per interpreter). */
function pythonLayout(python: string): PythonLayout {
  let layout = layouts.get(python);
  if (!layout) {
    const script = 'import json, sys; print(json.dumps([sys.executable, sys.path]))';
    const [executable, path] = JSON.parse(
      execFileSync(python, ['-I', '-c', script], { encoding: 'utf8', timeout: 30_000 }),
    ) as [string, string[]];
    layout = { executable: realpathSync(executable), path };
    layouts.set(python, layout);
  }
  return layout;
}

export function defaultPython(): string {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : findOnPath('python3');
  if (!python) throw new Error('sandbox: backend "python3" needs a python3 interpreter on PATH');
  return python;
}

export function python3Spec(opts: RuntimeOptions = {}): JailSpec {
  const layout = pythonLayout(opts.python ?? defaultPython());
  const pathDirs = layout.path.filter((p) => p && existsSync(p) && statSync(p).isDirectory());
  return {
    command: [layout.executable, '-I', '-B', `${JAIL_ROOT}/python3.py`],
    binds: [
      sameBind(layout.executable),
      ...libraryDirs(layout.executable).map(sameBind),
      ...pathDirs.map(sameBind),
      jailFile('python3.py'),
      jailFile('runner.py'),
    ],
    memoryLimit: 'as',
    memoryOverheadBytes: 0,
    canFork: true,
    unjailedCommand: [layout.executable, '-I', '-B', join(JAIL_SOURCES, 'python3.py')],
  };
}

export function jailSpec(backend: Backend, opts: RuntimeOptions = {}): JailSpec {
  return backend === 'pyodide' ? pyodideSpec(opts) : python3Spec(opts);
}
