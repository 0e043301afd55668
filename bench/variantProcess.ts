/**
 * Runs one variant of a memory benchmark in a child process of its own, so each variant's peak RSS is its
 * own, and returns the JSON of the child's last stdout line (printed here too).
 */
import { spawnSync } from 'node:child_process';

export function runVariantInChild<T>(script: string, variant: string, args: readonly string[]): T {
  const argv = ['--import', 'tsx', script, '--variant', variant, ...args];
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${variant} variant failed (exit ${r.status}, signal ${r.signal})`);
  const line = r.stdout.trim().split('\n').at(-1)!;
  console.log(line);
  return JSON.parse(line) as T;
}
