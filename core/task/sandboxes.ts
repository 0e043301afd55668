/**
 * The sandbox pools of this process, one per tool settings: warm Python processes are slow to start, so
 * every generate call of every activity with the same settings shares one pool.
 */
import type { ToolsConfig } from '../config/task.ts';
import { SandboxPool } from '../tools/pool.ts';

const sandboxes = new Map<string, Promise<SandboxPool>>();

/** One warm sandbox pool per worker process and tool settings, shared by every activity. */
export function sandboxFor(tools: ToolsConfig): Promise<SandboxPool> {
  const key = JSON.stringify([tools.backend, tools.timeoutMs, tools.outputChars, tools.poolSize]);
  let pool = sandboxes.get(key);
  if (!pool) {
    pool = SandboxPool.create({
      backend: tools.backend,
      limits: { wallTimeMs: tools.timeoutMs, outputChars: tools.outputChars },
      size: tools.poolSize,
    });
    pool.catch(() => sandboxes.delete(key));
    sandboxes.set(key, pool);
  }
  return pool;
}

/**
 * Stops every sandbox pool this process started (their warm processes would keep it alive): for a process
 * that ran activities outside a worker, such as a test. Pools start again on the next use.
 */
export async function closeSandboxes(): Promise<void> {
  const pools = [...sandboxes.values()];
  sandboxes.clear();
  await Promise.all(pools.map(async (p) => (await p.catch(() => undefined))?.close()));
}
