/**
 * What the rollout-server tests share: `reasonloop serve` child processes (stopped by `stopServers`), and a
 * run's kept rollouts and final weights read back from its store for comparing two runs.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { checkpointWeights, rolloutKey } from '../../../activities/runtime.ts';
import type { RolloutRecord } from '../../../activities/sampleRollouts.ts';
import { latestVerifiedCheckpoint, type ObjectStore } from '../../../core/store/index.ts';

const CLI = fileURLToPath(new URL('../../../bin/reasonloop', import.meta.url));

/** Every server started, in order. */
export const servers: ChildProcess[] = [];

export function stopServers(): void {
  for (const s of servers) s.kill('SIGTERM');
}

/** `reasonloop serve` as a child process on `port` (0: any); resolves with its API base once it listens. */
export function startServe(args: string[], port = 0): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  servers.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`reasonloop serve exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) resolve((JSON.parse(line) as { listening: string }).listening);
    });
  });
}

/** The rollouts a run kept for `step`, shard by shard. */
export async function stepRecords(store: ObjectStore, runId: string, step: number): Promise<RolloutRecord[]> {
  const keys = (await store.list(rolloutKey(runId, step, 'shard-'))).map((o) => o.key).sort();
  assert.ok(keys.length > 0, `no rollouts kept for ${runId} step ${step}`);
  const out: RolloutRecord[] = [];
  for (const key of keys)
    out.push(...(JSON.parse(new TextDecoder().decode(await store.get(key))) as RolloutRecord[]));
  return out;
}

/** The step and weights of the run's newest verified checkpoint. */
export async function finalWeights(store: ObjectStore, runId: string) {
  const { manifest } = await latestVerifiedCheckpoint(store, runId, { allowPruned: true });
  assert.ok(manifest, `${runId} has no checkpoint`);
  return { step: manifest.step, weights: await checkpointWeights(store, manifest) };
}

/** Two runs' weights, tensor for tensor, bit for bit. */
export function assertSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
  for (const [name, w] of a) assert.ok(Buffer.from(w.buffer).equals(Buffer.from(b.get(name)!.buffer)), name);
}
