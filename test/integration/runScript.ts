/**
 * Runs a TypeScript entry point of the repo (`npm start`'s, `npm run study`'s) as its own Node process.
 * Its stdout lines are echoed as they come, prefixed, so a test that times out in CI still shows how far
 * the script got.
 */
import { spawn } from 'node:child_process';

export function runScript(
  args: string[],
  echoPrefix?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    const started = Date.now();
    child.stdout.on('data', (d) => {
      stdout += d;
      if (echoPrefix === undefined) return;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      const at = `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
      for (const line of lines) console.log(`${echoPrefix} ${at} │ ${line}`);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
