/**
 * `npm run bench:rollout -- --engine openai`: the bench-25m rollout (batch 32 × 16-token prompts, 128 new
 * tokens, T = 1) sampled two ways from the same weights and the same per-request RNG coordinates — by the
 * in-process Generator, and by `rollout.engine.kind: "openai"`'s sampler (core/serve/endpointSampler.ts,
 * one HTTP request per row) against a `reasonloop serve` child process that batches the 32 requests
 * together. Both are warmed up once, then take turns for each timed round. What the server path costs
 * beyond the in-process one, per token, is printed; it holds HTTP and JSON, the process boundary, and the
 * server's continuous-batching decode in place of the Generator's. A server can stop a row at the model's
 * EOS where the in-process call does not, so throughput counts the tokens each side drew.
 * Last line: {"bench":"rollout","engine":"openai","tokensPerSec":…,"serverTokensPerSec":…,…}
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Generation } from '../../core/generate/generation.ts';
import { Generator } from '../../core/generate/generator.ts';
import { generateFromEndpoint, type Endpoint } from '../../core/serve/endpointSampler.ts';
import { rolloutOptions, rolloutRequests } from './ours.ts';
import { median } from './side.ts';
import { ROLLOUT, ensureRolloutWorkload, type RolloutModelName } from './workload.ts';

const CLI = fileURLToPath(new URL('../../bin/reasonloop', import.meta.url));
const SEED = 11;

/** `reasonloop serve` on the workload's directory; resolves with its endpoint and a stop function. */
async function startServer(dir: string, threads: number): Promise<{ endpoint: Endpoint; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--model',
      dir,
      '--port',
      '0',
      '--threads',
      String(threads),
      '--served-model-name',
      'bench',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`reasonloop serve exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) resolve((JSON.parse(line) as { listening: string }).listening);
    });
  });
  return { endpoint: { url, model: 'bench' }, stop: () => child.kill('SIGTERM') };
}

const tokensOf = (out: readonly Generation[]) => out.reduce((n, g) => n + g.tokens.length, 0);

/** Rows whose tokens agree, up to the shorter of the two (a server row may end at EOS). */
function sameTokens(a: readonly Generation[], b: readonly Generation[]): number {
  return a.filter((g, i) => {
    const n = Math.min(g.tokens.length, b[i].tokens.length);
    return g.tokens.slice(0, n).every((t, j) => t === b[i].tokens[j]);
  }).length;
}

export async function benchOpenaiEngine(
  model: RolloutModelName,
  threads: number,
  runs: number,
): Promise<void> {
  const workload = ensureRolloutWorkload(model);
  console.log(
    `rollout bench, engine openai: ${model}, batch ${ROLLOUT.batch} × ${ROLLOUT.promptLength}-token prompts, ${ROLLOUT.maxNewTokens} new tokens, T=${ROLLOUT.temperature}; ${threads} intra-op thread(s) each; ${runs} timed rounds after one warm-up; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const requests = rolloutRequests(workload.prompts);
  const opts = rolloutOptions(SEED);
  const generator = await Generator.create(workload.config, workload.weights, { intraOpThreads: threads });
  const server = await startServer(workload.dir, threads);
  try {
    const sides = {
      inProcess: () => generator.generate(requests, opts),
      server: () => generateFromEndpoint(server.endpoint, requests, opts),
    };
    const timed = async (run: () => Promise<Generation[]>) => {
      const t = performance.now();
      const out = await run();
      return { seconds: (performance.now() - t) / 1000, out };
    };
    const local = await timed(sides.inProcess);
    const remote = await timed(sides.server);
    const agree = sameTokens(local.out, remote.out);
    const seconds = { inProcess: [] as number[], server: [] as number[] };
    const tokens = { inProcess: tokensOf(local.out), server: tokensOf(remote.out) };
    for (let r = 0; r < runs; r++) {
      seconds.inProcess.push((await timed(sides.inProcess)).seconds);
      seconds.server.push((await timed(sides.server)).seconds);
    }
    const [tIn, tServer] = [median(seconds.inProcess), median(seconds.server)];
    const inProcessRate = tokens.inProcess / tIn;
    const serverRate = tokens.server / tServer;
    const overheadUs = (1 / serverRate - 1 / inProcessRate) * 1e6;
    console.log(
      `in-process: ${inProcessRate.toFixed(1)} tokens/s (${tokens.inProcess} tokens, median ${tIn.toFixed(2)} s of ${seconds.inProcess.map((s) => s.toFixed(2)).join(', ')})`,
    );
    console.log(
      `server:     ${serverRate.toFixed(1)} tokens/s (${tokens.server} tokens in ${ROLLOUT.batch} requests, median ${tServer.toFixed(2)} s of ${seconds.server.map((s) => s.toFixed(2)).join(', ')})`,
    );
    console.log(
      `server path beyond in-process: ${overheadUs.toFixed(1)} µs per token (HTTP, JSON, process boundary and the server's batched decode); same tokens in ${agree}/${ROLLOUT.batch} rows`,
    );
    console.log(
      JSON.stringify({
        bench: 'rollout',
        engine: 'openai',
        model,
        threads,
        tokensPerSec: Math.round(inProcessRate * 10) / 10,
        serverTokensPerSec: Math.round(serverRate * 10) / 10,
        serverVsInProcess: Math.round((serverRate / inProcessRate) * 1000) / 1000,
        overheadMicrosecondsPerToken: Math.round(overheadUs * 10) / 10,
        sameTokenRows: agree,
        rows: ROLLOUT.batch,
        runs,
      }),
    );
  } finally {
    server.stop();
  }
}
