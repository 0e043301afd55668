/**
 * `npm run bench:sandbox`: what a tool call costs. For each backend: cold start (jail + interpreter load,
 * one process), warm call (host-measured wall time of a trivial snippet on a warm process, median), and
 * throughput of a small arithmetic snippet on a pool of DEFAULT_POOL_SIZE processes. The last line is the
 * default backend's (Pyodide) figures as JSON.
 */
import { DEFAULT_POOL_SIZE, SandboxPool } from '../core/tools/pool.ts';
import type { Backend } from '../core/tools/runtimes.ts';

/** Warm calls timed for the median. */
const WARM_CALLS = 200;
/** How long the throughput run lasts. */
const THROUGHPUT_MS = 3_000;
/** A small piece of model-like arithmetic (the throughput snippet). */
const SNIPPET = 'print(sum(i * i for i in range(1000)) % 97)';

interface Figures {
  coldStartMs: number;
  warmCallMs: number;
  callsPerSec: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, digits: number) => Number(x.toFixed(digits));

async function measure(backend: Backend): Promise<Figures> {
  const t0 = performance.now();
  const one = await SandboxPool.create({ backend, size: 1 });
  const coldStartMs = performance.now() - t0;
  const warm: number[] = [];
  try {
    for (let i = 0; i < WARM_CALLS; i++) {
      const s = performance.now();
      const r = await one.run('x = 1 + 1');
      if (r.error) throw new Error(`bench: warm call failed: ${r.error}`);
      warm.push(performance.now() - s);
    }
  } finally {
    await one.close();
  }

  const pool = await SandboxPool.create({ backend, size: DEFAULT_POOL_SIZE });
  let calls = 0;
  try {
    const end = performance.now() + THROUGHPUT_MS;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: DEFAULT_POOL_SIZE * 2 }, async () => {
        while (performance.now() < end) {
          const r = await pool.run(SNIPPET);
          if (r.error) throw new Error(`bench: call failed: ${r.error}`);
          calls++;
        }
      }),
    );
    const callsPerSec = calls / ((performance.now() - start) / 1000);
    return { coldStartMs, warmCallMs: median(warm), callsPerSec };
  } finally {
    await pool.close();
  }
}

async function main(): Promise<void> {
  const results: Partial<Record<Backend, Figures>> = {};
  for (const backend of ['python3', 'pyodide'] as const) {
    const f = await measure(backend);
    results[backend] = f;
    console.log(
      `sandbox ${backend}: cold start ${f.coldStartMs.toFixed(0)} ms, warm call ${f.warmCallMs.toFixed(2)} ms ` +
        `(median of ${WARM_CALLS}), ${f.callsPerSec.toFixed(0)} calls/s on ${DEFAULT_POOL_SIZE} processes ` +
        `(node ${process.version})`,
    );
  }
  const f = results.pyodide!;
  console.log(
    JSON.stringify({
      bench: 'sandbox',
      warmCallMs: round(f.warmCallMs, 3),
      coldStartMs: Math.round(f.coldStartMs),
      callsPerSec: Math.round(f.callsPerSec),
    }),
  );
}

await main();
