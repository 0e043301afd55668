/**
 * Tool use: a Python sandbox (Pyodide or python3, each in a bubblewrap jail, in a pool of warm processes)
 * and the paper's tool-call protocol (```python block → run → ```output block).
 */
export * from './limits.ts';
export * from './isolation.ts';
export * from './runtimes.ts';
export * from './sandboxProcess.ts';
export * from './pool.ts';
export * from './metrics.ts';
export * from './protocol.ts';
