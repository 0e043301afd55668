/**
 * `npm run bench:serve`: `reasonloop serve`'s continuous batching against the same server answering one
 * request at a time, measured in the same run on the bench-25m model (DESIGN.md §5 weights and prompts):
 * 64 completion requests (16-token prompts given as token ids, `--max-tokens` new tokens each, T = 1,
 * EOS ignored so every request draws the same count, a seed per request), sent over HTTP first one after
 * another, then all at once. The batched answers must carry the same tokens as the one-at-a-time ones
 * (the draws do not depend on the batch); the bench fails otherwise. Last line:
 * {"bench":"serve","requests":64,"sequentialTokensPerSec":…,"batchedTokensPerSec":…,"ratio":…,"peakRssMb":…}
 * Target (issue 20): ratio ≥ 3.
 */
import { parseArgs } from 'node:util';
import { loadPolicyDir } from '../core/serve/policy.ts';
import { ServeApp } from '../core/serve/server.ts';
import { ensureRolloutWorkload } from './rollout/workload.ts';

const TARGET_RATIO = 3;

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '64' },
    'max-tokens': { type: 'string', default: '32' },
    threads: { type: 'string', default: '1' },
  },
});
const REQUESTS = Number(values.requests);
const MAX_TOKENS = Number(values['max-tokens']);
const THREADS = Number(values.threads);

interface Answer {
  choices: { token_ids: number[] }[];
}

async function main(): Promise<void> {
  const workload = ensureRolloutWorkload('bench-25m');
  const app = new ServeApp(await loadPolicyDir(workload.dir, { intraOpThreads: THREADS }), {
    modelName: 'bench-25m',
    maxBatch: REQUESTS,
    maxQueue: REQUESTS,
    kvBudgetBytes: 2 ** 31,
    load: () => Promise.reject(new Error('no loads in the bench')),
  });
  const { port } = await app.listen(0, '127.0.0.1');
  const ask = async (i: number): Promise<number[]> => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        prompt: workload.prompts[i % workload.prompts.length],
        max_tokens: MAX_TOKENS,
        temperature: 1,
        ignore_eos: true,
        seed: i,
      }),
    });
    if (!res.ok) throw new Error(`request ${i}: ${res.status} ${await res.text()}`);
    return ((await res.json()) as Answer).choices[0].token_ids;
  };
  try {
    await ask(0); // warm-up: the session's first runs
    let start = performance.now();
    const sequential: number[][] = [];
    for (let i = 0; i < REQUESTS; i++) sequential.push(await ask(i));
    const sequentialSec = (performance.now() - start) / 1000;
    const statsBefore = { ...app.batcher.stats };
    start = performance.now();
    const batched = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => ask(i)));
    const batchedSec = (performance.now() - start) / 1000;
    const same = batched.every((t, i) => t.join(',') === sequential[i].join(','));
    if (!same) throw new Error('batched answers differ from the one-at-a-time ones');
    const tokens = REQUESTS * MAX_TOKENS;
    const steps = app.batcher.stats.steps - statsBefore.steps;
    const prefills = app.batcher.stats.prefills - statsBefore.prefills;
    console.log(
      `${REQUESTS} requests × ${MAX_TOKENS} tokens on bench-25m (${THREADS} thread): one at a time ${sequentialSec.toFixed(2)} s, ` +
        `all at once ${batchedSec.toFixed(2)} s in ${steps} decode steps and ${prefills} prefills (largest batch ${app.batcher.stats.largestBatch})`,
    );
    const ratio = sequentialSec / batchedSec;
    console.log(
      JSON.stringify({
        bench: 'serve',
        model: 'bench-25m',
        requests: REQUESTS,
        maxTokens: MAX_TOKENS,
        threads: THREADS,
        sequentialTokensPerSec: Math.round(tokens / sequentialSec),
        batchedTokensPerSec: Math.round(tokens / batchedSec),
        ratio: Number(ratio.toFixed(2)),
        target: TARGET_RATIO,
        meetsTarget: ratio >= TARGET_RATIO,
        batchedDecodeSteps: steps,
        batchedPrefills: prefills,
        largestBatch: app.batcher.stats.largestBatch,
        sameTokens: same,
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      }),
    );
  } finally {
    await app.close();
  }
}

await main();
