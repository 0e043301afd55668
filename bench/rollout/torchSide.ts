/**
 * The PyTorch side: one long-lived Python process (scripts/python/bench_rollout_torch.py) that loads the
 * bench directory once and answers one timed HF `generate` per request line, so its runs interleave with
 * ours in the same minutes of the machine. It times `generate` itself (no pipe or JSON cost counted).
 */
import type { WeightDtype } from '../../core/model/qwen2.ts';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { RolloutSide } from './side.ts';
import { PROMPTS_FILE, ROLLOUT, type RolloutWorkload } from './workload.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/python/bench_rollout_torch.py', import.meta.url));
/** Lines of the Python process's stderr kept for an error message. */
const STDERR_TAIL_LINES = 20;

export interface TorchServer {
  versions: { torch: string; transformers: string; attention: string; device: string };
  side(threads: number): RolloutSide;
  /** First greedy token of every prompt (the same-weights check). */
  greedyFirstTokens(): Promise<number[]>;
  /** A device-to-device copy's (bytes read + written) per second on the GPU; 0 on the CPU. */
  copyBandwidth(): Promise<number>;
  close(): void;
}

interface Reply {
  seconds?: number;
  newTokens?: number;
  batch?: number;
  tokens?: number[];
  ready?: boolean;
  torch?: string;
  transformers?: string;
  attention?: string;
  device?: string;
  bytesPerSec?: number;
}

/** `device` is torch's device string: "cpu" or "cuda:N"; `dtype` the model's (float16: all of it). */
export async function startTorchServer(
  python: string,
  workload: RolloutWorkload,
  device = 'cpu',
  dtype: WeightDtype = 'float32',
): Promise<TorchServer> {
  const child: ChildProcessWithoutNullStreams = spawn(
    python,
    [
      SCRIPT,
      '--model',
      workload.dir,
      '--prompts',
      join(workload.dir, PROMPTS_FILE),
      '--max-new-tokens',
      String(ROLLOUT.maxNewTokens),
      '--temperature',
      String(ROLLOUT.temperature),
      '--device',
      device,
      '--dtype',
      dtype,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > STDERR_TAIL_LINES) stderr.shift();
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = `exited (code ${code}, signal ${signal})`));

  async function nextReply(): Promise<Reply> {
    const next = await lines.next();
    if (next.done) throw new Error(`${SCRIPT} ${exited ?? 'closed its output'}:\n${stderr.join('\n')}`);
    return JSON.parse(next.value) as Reply;
  }
  // One request at a time: the bench awaits each run before the next.
  async function request(body: Record<string, unknown>): Promise<Reply> {
    child.stdin.write(JSON.stringify(body) + '\n');
    return nextReply();
  }

  const ready = await nextReply();
  if (!ready.ready) throw new Error(`${SCRIPT}: unexpected first line ${JSON.stringify(ready)}`);
  return {
    versions: {
      torch: ready.torch!,
      transformers: ready.transformers!,
      attention: ready.attention!,
      device: ready.device ?? 'cpu',
    },
    side(threads) {
      return {
        name: 'torch',
        threads,
        async run(seed) {
          const r = await request({ threads, seed });
          if (r.newTokens !== ROLLOUT.maxNewTokens || r.batch !== ROLLOUT.batch)
            throw new Error(
              `torch: generated ${r.batch}×${r.newTokens}, expected ${ROLLOUT.batch}×${ROLLOUT.maxNewTokens}`,
            );
          return r.seconds!;
        },
      };
    },
    async greedyFirstTokens() {
      return (await request({ threads: 1, greedyFirstTokens: true })).tokens!;
    },
    async copyBandwidth() {
      return (await request({ bandwidth: true })).bytesPerSec ?? 0;
    },
    close() {
      child.stdin.end();
    },
  };
}
