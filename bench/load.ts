/**
 * `npm run bench:load`: the peak memory of loading a real-shape model and sampling from it, ours against
 * PyTorch's. Both sides are whole processes measured from outside (`/usr/bin/time -f %M`, the peak
 * resident set): `reasonloop generate` on the model directory, and transformers' `from_pretrained` +
 * `generate` of the same greedy tokens (scripts/python/bench_load_torch.py). The model is Qwen2.5-0.5B's
 * shape with seeded random weights (bench/scale/makeModelDir.ts), made once under the cache folder.
 *
 *   npm run bench:load [-- --shape qwen2.5-0.5b --max-new-tokens 16]
 *
 * Last line: {"bench":"load","oursPeakRssGB","torchPeakRssGB","rssVsTorch","tokensMatch",...}
 * (GB = 2^30 bytes; rssVsTorch = ours / PyTorch's, target ≤ 1.25).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeModelDir } from './scale/makeModelDir.ts';
import { ensureVenv, TORCH_VENV } from './rollout/venv.ts';
import { cacheRoot } from './rollout/workload.ts';

const TIME = '/usr/bin/time';
/** A fixed prompt (ids below every vocabulary the shapes use). */
const PROMPT_IDS = [9707, 11, 1879, 374, 264, 1273, 13];

interface Measured {
  peakRssGB: number;
  seconds: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time; its peak RSS in GB (2^30) and wall seconds. */
function measure(cmd: string, args: string[]): Measured {
  const dir = mkdtempSync(join(tmpdir(), 'bench-load-'));
  const report = join(dir, 'time.txt');
  try {
    const r = spawnSync(TIME, ['-f', '%M %e', '-o', report, cmd, ...args], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
    const [kb, seconds] = readFileSync(report, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    return { peakRssGB: kb / 2 ** 20, seconds, stdout: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The `tokens` of the last JSON line a side printed. */
function tokensOf(stdout: string): number[] {
  const line = stdout.trim().split('\n').pop()!;
  return (JSON.parse(line) as { tokens: number[] }).tokens;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      shape: { type: 'string', default: 'qwen2.5-0.5b' },
      'max-new-tokens': { type: 'string', default: '16' },
    },
  });
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing (Debian package "time"): it measures peak RSS`);
  const shape = values.shape!;
  const maxNewTokens = Number(values['max-new-tokens']);
  const modelDir = join(cacheRoot(), 'bench', shape);
  console.error(`load bench: model ${modelDir} (made once; minutes)`);
  makeModelDir({ shape, out: modelDir });
  const ids = PROMPT_IDS.join(',');

  const ours = measure(process.execPath, [
    '--import',
    'tsx',
    'cli/reasonloop.ts',
    'generate',
    '--model',
    modelDir,
    '--prompt-ids',
    ids,
    '--max-new-tokens',
    String(maxNewTokens),
    '--temperature',
    '0',
    '--json',
  ]);
  const oursTokens = tokensOf(ours.stdout);
  console.error(`ours: peak ${ours.peakRssGB.toFixed(2)} GB, ${ours.seconds.toFixed(1)} s`);

  const venv = ensureVenv(TORCH_VENV);
  const result: Record<string, unknown> = {
    bench: 'load',
    shape,
    maxNewTokens,
    oursPeakRssGB: round(ours.peakRssGB),
    oursSeconds: ours.seconds,
  };
  if ('reason' in venv) {
    result.torchUnavailable = venv.reason;
  } else {
    const torch = measure(venv.python, [
      'scripts/python/bench_load_torch.py',
      '--model',
      modelDir,
      '--prompt-ids',
      ids,
      '--max-new-tokens',
      String(maxNewTokens),
    ]);
    const torchTokens = tokensOf(torch.stdout);
    console.error(`torch: peak ${torch.peakRssGB.toFixed(2)} GB, ${torch.seconds.toFixed(1)} s`);
    Object.assign(result, {
      torchPeakRssGB: round(torch.peakRssGB),
      torchSeconds: torch.seconds,
      rssVsTorch: round(ours.peakRssGB / torch.peakRssGB),
      tokensMatch:
        oursTokens.length === torchTokens.length && oursTokens.every((t, i) => t === torchTokens[i]),
    });
  }
  console.log(JSON.stringify(result));
}

const round = (x: number) => Math.round(x * 1000) / 1000;

await main();
