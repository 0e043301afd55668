/* global process, URL, performance -- Node globals; this file runs on Node inside the jail */
// Entry point of a Pyodide sandbox process (runs inside the jail, plain JavaScript so it needs no loader).
// Requests arrive one JSON object per line on stdin, replies leave one per line on stdout. Python never
// sees the host's globals (`jsglobals: {}`); what `pyodide_js` can still reach is bounded by the jail.
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

const HERE = new URL('.', import.meta.url).pathname;
/** Pyodide's folder (bound read-only by the host). */
const PYODIDE_DIR = process.argv[2] ?? `${HERE}pyodide/`;
/** A folder of pure-Python packages (sympy, mpmath) bound read-only by the host, when it has them. */
const SITE = process.argv[3] ?? '/sandbox/site';
const { loadPyodide } = await import(`${PYODIDE_DIR}/pyodide.mjs`);
/** Pyodide's interrupt protocol: writing SIGINT (2) into the buffer raises KeyboardInterrupt. */
const SIGINT = 2;

const interrupt = new Int32Array(new SharedArrayBuffer(8));
// A timer thread, because this thread is busy inside Python while a snippet runs. Slot 1 holds the id of
// the running snippet so that a late timer never interrupts the next one.
const timer = new Worker(
  `const { parentPort, workerData } = require('node:worker_threads');
   const buf = workerData;
   parentPort.on('message', ({ id, ms }) => setTimeout(() => {
     if (Atomics.load(buf, 1) === id) Atomics.store(buf, 0, ${SIGINT});
   }, ms));`,
  { eval: true, workerData: interrupt },
);
timer.unref();

let capture = { parts: [], kept: 0, total: 0, cap: 0 };
function write(text) {
  capture.total += text.length;
  const room = capture.cap - capture.kept;
  if (room > 0) {
    const piece = text.slice(0, room);
    capture.parts.push(piece);
    capture.kept += piece.length;
  }
}

const pyodide = await loadPyodide({
  indexURL: `${PYODIDE_DIR}/`,
  jsglobals: {},
  stdout: write,
  stderr: write,
  stdin: () => null,
});
pyodide.setInterruptBuffer(interrupt);
pyodide.FS.mkdirTree('/sandbox/runner');
pyodide.FS.writeFile('/sandbox/runner/runner.py', readFileSync(`${HERE}runner.py`));
let sitePath = '';
try {
  pyodide.FS.mkdirTree(SITE);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: SITE }, SITE);
  sitePath = SITE;
} catch {
  // No pure-Python packages bound: math code without sympy still runs.
}
pyodide.runPython(`
import sys, warnings
sys.dont_write_bytecode = True
sys.path.insert(0, '/sandbox/runner')
if ${JSON.stringify(sitePath)}:
    sys.path.append(${JSON.stringify(sitePath)})
warnings.simplefilter('ignore', SyntaxWarning)
from runner import run_snippet
`);
const runSnippet = pyodide.globals.get('run_snippet');

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

reply({ ready: true });
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const request = JSON.parse(line);
  const start = performance.now();
  Atomics.store(interrupt, 0, 0);
  Atomics.store(interrupt, 1, request.id);
  timer.postMessage({ id: request.id, ms: request.timeoutMs });
  capture = { parts: [], kept: 0, total: 0, cap: request.captureChars };
  let result;
  try {
    const proxy = runSnippet(request.code, request.captureChars);
    result = proxy.toJs({ dict_converter: Object.fromEntries });
    proxy.destroy();
  } catch (err) {
    if (err?.constructor?.name === 'PythonError') {
      // An exception that escaped runner.py's own handler (e.g. the interrupt landing in it): the
      // interpreter is fine; report it by the exception's name.
      const name = String(err.type ?? 'Exception');
      const errorKind =
        name === 'KeyboardInterrupt' ? 'timeout' : name === 'MemoryError' ? 'memory' : 'exception';
      const error = errorKind === 'timeout' ? 'TimeoutError' : name;
      result = { stdout: '', stdoutChars: 0, error, errorKind };
    } else {
      // Pyodide itself failed (e.g. the wasm stack overflowed): the interpreter is unusable now, so
      // report and exit; the host starts a fresh process.
      const error = `the Python runtime failed: ${err}`;
      reply({
        id: request.id,
        stdout: '',
        stdoutChars: 0,
        error,
        errorKind: 'crash',
        ms: performance.now() - start,
      });
      process.exit(1);
    }
  }
  Atomics.store(interrupt, 1, 0);
  // Writes that bypassed sys.stdout (os.write to descriptor 1) come through Pyodide's own callback.
  result.stdout = capture.parts.join('') + result.stdout;
  result.stdoutChars += capture.total;
  reply({ id: request.id, ...result, ms: performance.now() - start });
}
