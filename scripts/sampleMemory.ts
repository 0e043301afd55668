/**
 * The peak memory of a rollout worker sampling from a real-shape policy, against the policy's size. One
 * process prepares a run on a model directory (checkpoint 0; checkpoint 1 the same weights, or with --lora
 * the same adapters, again: a second policy version to swap in); a second process, measured by its own peak
 * resident set, runs the sampleRollouts activity for steps 1 and 2 as a rollout worker does (step s samples
 * from checkpoint s − 1), 4 prompts × 4 samples. --lora: LoRA rank 16 on every linear layer. The model
 * defaults to Qwen2.5-0.5B's shape with seeded random weights (bench/scale/makeModelDir.ts), made once under
 * the cache folder. Both processes hold the whole model, so run it alone (it is not a bench: the workers'
 * peaks through the real workflow are bench:scale's).
 *
 *   node --import tsx scripts/sampleMemory.ts [--model DIR] [--lora] [--max-new-tokens 32] [--threads 2]
 *
 * Last line: {"bench":"sample-memory","policyGB","peakRssGB","rssVsPolicy","secondsPerStep":[…],…}
 * (GB = 2^30 bytes; rssVsPolicy = peak / float32 policy bytes).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { prepareRun } from '../activities/prepareRun.ts';
import { sampleRollouts } from '../activities/sampleRollouts.ts';
import type { SampleRolloutsInput, SampleRolloutsOutput } from '../activities/types.ts';
import {
  decodeManifest,
  manifestKey,
  objectsFromDirectory,
  openStore,
  restoreCheckpointObjects,
  type CheckpointManifest,
  verifyCheckpoint,
  writeCheckpoint,
} from '../core/store/index.ts';
import { makeModelDir } from '../bench/scale/makeModelDir.ts';
import { cacheRoot } from '../bench/rollout/workload.ts';
import { runVariantInChild } from '../bench/variantProcess.ts';

const SCRIPT = new URL(import.meta.url).pathname;

function runConfig(model: string, store: string, maxNewTokens: number, threads: number, lora: boolean) {
  return {
    runId: 'sample-memory',
    seed: 3,
    steps: 2,
    model: { dir: model },
    task: { kind: 'reverseDigits' as const, digits: 3 },
    rollout: { promptsPerStep: 4, n: 4, maxNewTokens },
    algorithm: {
      kl: { placement: 'none' as const },
      miniBatchSize: 16,
      microBatchSize: 4,
      ...(lora ? { lora: { rank: 16, alpha: 32 } } : {}),
    },
    store: { url: store },
    orchestration: { intraOpThreads: threads },
  };
}

/** Checkpoint 0 (prepareRun) and checkpoint 1, the model's files again under step 1. */
async function prepare(config: ReturnType<typeof runConfig>): Promise<void> {
  const env = new MockActivityEnvironment();
  await env.run(prepareRun, config);
  const store = openStore(config.store.url);
  const zero = await verifyCheckpoint(store, config.runId, 0);
  if ('problem' in zero) throw new Error(`checkpoint 0: ${zero.problem}`);
  const m = zero.manifest;
  await writeCheckpoint(store, {
    runId: config.runId,
    step: 1,
    configHash: m.configHash,
    dataCursor: m.dataCursor,
    rng: m.rng,
    metrics: {},
    objects: config.algorithm.lora
      ? await adapterObjects(store, m)
      : await objectsFromDirectory(config.model.dir, 'weights'),
  });
}

async function adapterObjects(store: ReturnType<typeof openStore>, m: CheckpointManifest) {
  const dir = mkdtempSync(join(tmpdir(), 'adapter-'));
  await restoreCheckpointObjects(store, m, 'adapter/', dir);
  return objectsFromDirectory(dir, 'adapter');
}

/** The measured process: steps 1 and 2 of sampling, then its own peak RSS. */
async function sampleSteps(config: ReturnType<typeof runConfig>): Promise<void> {
  const env = new MockActivityEnvironment();
  // The cursor from checkpoint 0's manifest: prepareRun here would read the model into this process.
  const store = openStore(config.store.url);
  const decoded = decodeManifest(await store.get(manifestKey(config.runId, 0)), {
    runId: config.runId,
    step: 0,
  });
  if ('problem' in decoded) throw new Error(`checkpoint 0: ${decoded.problem}`);
  const seconds: number[] = [];
  let cursor = decoded.manifest.dataCursor as unknown as SampleRolloutsInput['cursor'];
  let tokens = 0;
  for (const step of [1, 2]) {
    const started = performance.now();
    const out = (await env.run(sampleRollouts, { config, step, shard: 0, cursor })) as SampleRolloutsOutput;
    seconds.push((performance.now() - started) / 1000);
    cursor = out.nextCursor;
    tokens += out.responses * out.meanResponseLength;
  }
  const peakRssGB = process.resourceUsage().maxRSS / 2 ** 20;
  console.log(JSON.stringify({ peakRssGB, seconds, tokens }));
}

function policyBytes(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string' },
      shape: { type: 'string', default: 'qwen2.5-0.5b' },
      model: { type: 'string' },
      store: { type: 'string' },
      'max-new-tokens': { type: 'string', default: '32' },
      threads: { type: 'string', default: '2' },
      lora: { type: 'boolean', default: false },
    },
  });
  const maxNewTokens = Number(values['max-new-tokens']);
  const threads = Number(values.threads);
  if (values.variant === 'sample') {
    await sampleSteps(runConfig(values.model!, values.store!, maxNewTokens, threads, values.lora!));
    return;
  }
  const model = values.model ?? join(cacheRoot(), 'bench', values.shape!);
  if (!values.model) {
    console.error(`sample-memory bench: model ${model} (made once; minutes)`);
    makeModelDir({ shape: values.shape!, out: model });
  }
  const store = mkdtempSync(join(tmpdir(), 'bench-sample-memory-'));
  try {
    const config = runConfig(model, store, maxNewTokens, threads, values.lora!);
    await prepare(config);
    const measured = runVariantInChild<{ peakRssGB: number; seconds: number[]; tokens: number }>(
      SCRIPT,
      'sample',
      [
        '--model',
        model,
        '--store',
        store,
        '--max-new-tokens',
        String(maxNewTokens),
        '--threads',
        String(threads),
      ],
    );
    const policyGB = policyBytes(model) / 2 ** 30;
    console.log(
      JSON.stringify({
        bench: 'sample-memory',
        model,
        lora: values.lora,
        policyGB: round(policyGB),
        peakRssGB: round(measured.peakRssGB),
        rssVsPolicy: round(measured.peakRssGB / policyGB),
        secondsPerStep: measured.seconds.map(round),
        tokens: measured.tokens,
        maxNewTokens,
      }),
    );
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

await main();
