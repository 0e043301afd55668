/**
 * `npm run bench:update`: one GRPO/PPO train step (forward, backward, global-norm clip, AdamW) of the
 * bench-25m model (DESIGN.md §5) on 8 sequences × 256 tokens, against PyTorch CPU autograd + AdamW on the
 * same weights and batch, measured in the same run, each side at its best thread count (1 or 2). Both
 * start from the same weights: their first-step losses must agree. Last line:
 * {"bench":"update","stepMs":…,"torchStepMs":…,"vsTorch":…,"params":…,"tokens":…,…}
 *
 * `npm run bench:update -- --engine torch`: the same step through the torch trainer package
 * (trainers/torch) against the ONNX trainer, in float64 on the same batch and weights (bench/update/torchParity.ts),
 * then through the torch trainer's Temporal worker on a stack of its own (bench/update/torchHop.ts): hopMs is
 * the activity's round trip as the workflow history records it less the activity's own time.
 * Last line: {"bench":"update","engine":"torch","parityMaxRelDiff":…,"hopMs":…,"stepMs":…,"onnxStepMs":…,
 * "workerStepMs":…}
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initOptimizerState } from '../core/graph/index.ts';
import type { HostTensor } from '../core/graph/index.ts';
import { qwen2Parameters } from '../core/model/parameters.ts';
import { parseRlAlgorithmConfig } from '../core/config/rl.ts';
import { PolicyUpdater } from '../core/train/policyUpdate.ts';
import { emptyStepTimings, type StepTimings } from '../core/train/trainSteps.ts';
import { profileStep, type RunProfile } from './update/breakdown.ts';
import type { RolloutRow } from '../core/train/rolloutBatch.ts';
import { uniformAt } from '../core/random.ts';
import { ensureRolloutWorkload } from './rollout/workload.ts';
import { TORCH_VENV, ensureVenv } from './rollout/venv.ts';
import { torchBatch } from './torchBatch.ts';
import { cacheRoot } from './rollout/workload.ts';
import { torchHop } from './update/torchHop.ts';
import { torchParity } from './update/torchParity.ts';

/** DESIGN.md §5 update workload: 8 sequences × 256 tokens (16 prompt + 240 response). */
const SEQUENCES = 8;
const PROMPT = 16;
const RESPONSE = 240;
const LR = 1e-5;
const STEPS = 3;
/** RL steps through the torch trainer's worker: step 1 reloads the checkpoint, the rest are warm and timed. */
const HOP_STEPS = 4;

function batchRows(vocab: number): RolloutRow[] {
  return Array.from({ length: SEQUENCES }, (_, b) => {
    const u = (t: number, stream: number) => uniformAt(99, stream, b, 0, t);
    const advantage = u(0, 3) - 0.5;
    return {
      promptIds: Array.from({ length: PROMPT }, (_, t) => Math.floor(u(t, 0) * vocab)),
      responseIds: Array.from({ length: RESPONSE }, (_, t) => Math.floor(u(t, 1) * vocab)),
      // Old log-probs near the policy's (≈ −log V for a random model) so some tokens clip, some do not.
      oldLogprobs: Array.from({ length: RESPONSE }, (_, t) => -Math.log(vocab) + (u(t, 2) - 0.5) * 0.6),
      sampled: Array.from({ length: RESPONSE }, () => true),
      advantages: Array.from({ length: RESPONSE }, () => advantage),
    };
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function algoConfig() {
  return parseRlAlgorithmConfig({
    kl: { placement: 'none' },
    lossAgg: 'token-mean',
    miniBatchSize: SEQUENCES,
    microBatchSize: SEQUENCES,
    optimizer: { lr: LR },
  });
}

/** Our step's parts (UpdateContext.timings), per step: the mean over the timed steps. */
type Parts = StepTimings & { otherMs: number };

async function ours(threads: number, rows: RolloutRow[]) {
  const w = ensureRolloutWorkload();
  const updater = await PolicyUpdater.create(w.config, algoConfig(), { intraOpThreads: threads });
  const params: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(w.config)) params[p.name] = { data: w.weights.get(p.name)!, dims: p.shape };
  let state = initOptimizerState(params);
  const times: number[] = [];
  const parts: StepTimings[] = [];
  let loss = NaN;
  let gradNorm = NaN;
  for (let i = 0; i < STEPS; i++) {
    const timings = emptyStepTimings();
    const t0 = performance.now();
    const r = await updater.update(state, rows, {
      seed: 0,
      step: i,
      temperature: 1,
      lr: LR,
      klCoef: 0,
      timings,
    });
    times.push(performance.now() - t0);
    parts.push(timings);
    if (i === 0) [loss, gradNorm] = [r.metrics[0].loss, r.metrics[0].gradNorm];
    state = r.state;
  }
  // The first step is left out of both: it pays one-time allocations.
  const timed = parts.slice(1);
  const mean = (k: keyof StepTimings) => timed.reduce((s, t) => s + t[k], 0) / timed.length;
  const keys = Object.keys(timed[0]) as (keyof StepTimings)[];
  const stepParts = Object.fromEntries(keys.map((k) => [k, mean(k)])) as unknown as Parts;
  const meanStep = times.slice(1).reduce((a, b) => a + b, 0) / timed.length;
  stepParts.otherMs = meanStep - keys.reduce((s, k) => s + stepParts[k], 0);
  return { threads, stepMs: median(times.slice(1)), loss, gradNorm, parts: stepParts };
}

function torch(threads: number, rows: RolloutRow[]) {
  const venv = ensureVenv(TORCH_VENV);
  if ('reason' in venv) return { error: venv.reason };
  const dir = mkdtempSync(join(tmpdir(), 'bench-update-'));
  const batchPath = join(dir, 'batch.json');
  writeFileSync(batchPath, JSON.stringify(torchBatch(rows, LR)));
  const script = fileURLToPath(new URL('../scripts/python/bench_update_torch.py', import.meta.url));
  const r = spawnSync(
    venv.python,
    [script, ensureRolloutWorkload().dir, batchPath, String(threads), String(STEPS)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0)
    return { error: `PyTorch side failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return {
    threads,
    stepMs: median(out.stepMs.slice(1)),
    loss: out.loss as number,
    gradNorm: out.gradNorm as number,
    peakRssMb: out.peakRssMb as number,
  };
}

const workload = ensureRolloutWorkload();
const rows = batchRows(workload.config.vocabSize);
const mode = process.argv[2];
if (mode === '--engine' && process.argv[3] !== 'torch' && process.argv[3] !== 'onnx')
  throw new Error(`--engine ${process.argv[3] ?? ''}: expected torch or onnx`);
if (mode === '--engine' && process.argv[3] === 'torch') {
  // The torch trainer's venv, as trainers/torch/install.sh makes it.
  const venv = process.env.REASONLOOP_TORCH_VENV ?? join(cacheRoot(), 'venv-torch');
  const rawAlgorithm = {
    kl: { placement: 'none' },
    lossAgg: 'token-mean',
    miniBatchSize: SEQUENCES,
    microBatchSize: SEQUENCES,
    optimizer: { lr: LR },
  };
  const algo = parseRlAlgorithmConfig(rawAlgorithm);
  const ctx = { seed: 0, step: 0, temperature: 1, lr: LR, klCoef: 0 };
  const r = await torchParity(
    join(venv, 'bin', 'python'),
    workload.config,
    workload.weights,
    algo,
    rows,
    ctx,
  );
  console.log(`largest relative difference: ${r.parityMaxRelDiff} (${r.worstAt})`);
  const hop = await torchHop(
    join(venv, 'bin', 'python'),
    join(cacheRoot(), 'bench', 'update-stack'),
    workload.dir,
    workload.config,
    rawAlgorithm,
    rows,
    HOP_STEPS,
  );
  const round = (x: number) => Math.round(x * 10) / 10;
  console.log(
    `torch worker (1 rank, float32): step 1 with the checkpoint reload ${round(hop.coldStepMs)} ms; warm steps ` +
      `${hop.workerStepMs.map(round).join(', ')} ms inside the activity, hop ${hop.hopMs.map(round).join(', ')} ms ` +
      `(of which schedule → start ${hop.scheduleToStartMs.map(round).join(', ')} ms)`,
  );
  console.log(
    JSON.stringify({
      bench: 'update',
      engine: 'torch',
      parityMaxRelDiff: r.parityMaxRelDiff,
      hopMs: round(median(hop.hopMs)),
      stepMs: round(r.torchUpdateMs),
      onnxStepMs: round(r.onnxUpdateMs),
      workerStepMs: round(median(hop.workerStepMs)),
      dtype: 'float64',
      params: workload.parameterCount,
      tokens: SEQUENCES * (PROMPT + RESPONSE),
    }),
  );
} else if (mode === '--ours-only') {
  const t = Number(process.argv[3] ?? 1);
  const r = await ours(t, rows);
  console.log(JSON.stringify({ ...r, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
} else if (mode === '--profile') {
  // Its own process: the profiling session and the MatMul timings add nothing to the step's peak RSS.
  const t = Number(process.argv[3] ?? 1);
  console.log(JSON.stringify(await profileStep(workload.config, algoConfig(), workload.weights, rows, t)));
} else {
  // Each of our thread counts runs in its own process so peak RSS is per configuration.
  const self = fileURLToPath(import.meta.url);
  const child = (args: string[], what: string) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  };
  const oursRuns = [1, 2].map((t) => child(['--ours-only', String(t)], `our side (${t} threads)`));
  const torchRuns = [1, 2].map((t) => torch(t, rows));
  for (const r of oursRuns)
    console.log(
      `ours:    ${r.stepMs.toFixed(0)} ms/step (${r.threads} intra-op threads), peak RSS ${r.peakRssMb.toFixed(0)} MB, loss ${r.loss.toFixed(6)}, grad norm ${r.gradNorm.toFixed(4)}`,
    );
  for (const r of torchRuns)
    if ('error' in r) console.log(`PyTorch: unavailable (${r.error})`);
    else
      console.log(
        `PyTorch: ${r.stepMs.toFixed(0)} ms/step (${r.threads} threads), peak RSS ${r.peakRssMb!.toFixed(0)} MB, loss ${r.loss.toFixed(6)}, grad norm ${r.gradNorm.toFixed(4)}`,
      );
  const best = oursRuns.reduce((a, b) => (b.stepMs < a.stepMs ? b : a));
  const torchOk = torchRuns.filter((r): r is Exclude<typeof r, { error: string }> => !('error' in r));
  const bestTorch = torchOk.length ? torchOk.reduce((a, b) => (b.stepMs < a.stepMs ? b : a)) : undefined;
  if (bestTorch && Math.abs(bestTorch.loss - best.loss) > 1e-4 * Math.max(1, Math.abs(best.loss)))
    console.log(
      `WARNING: first-step losses differ (ours ${best.loss}, PyTorch ${bestTorch.loss}): not the same computation`,
    );
  const profile = child(['--profile', String(best.threads)], 'the profiling run') as RunProfile;
  const parts = best.parts as Parts;
  const gemmEfficiency = profile.gemmRooflineMs / best.stepMs;
  printBreakdown(best.threads, best.stepMs, parts, profile);
  const round = (x: number) => Math.round(x * 10) / 10;
  const ratio = (x: number) => Math.round(x * 100) / 100;
  console.log(
    JSON.stringify({
      bench: 'update',
      stepMs: round(best.stepMs),
      torchStepMs: bestTorch ? round(bestTorch.stepMs) : null,
      vsTorch: bestTorch ? ratio(bestTorch.stepMs / best.stepMs) : null,
      params: workload.parameterCount,
      tokens: SEQUENCES * (PROMPT + RESPONSE),
      threads: best.threads,
      torchThreads: bestTorch?.threads ?? null,
      peakRssMb: Math.round(best.peakRssMb),
      torchPeakRssMb: bestTorch ? Math.round(bestTorch.peakRssMb!) : null,
      rssVsTorch: bestTorch ? ratio(best.peakRssMb / bestTorch.peakRssMb!) : null,
      gemmEfficiency: ratio(gemmEfficiency),
      gemmGflop: round(profile.gemmFlops / 1e9),
      gemmMs: round(profile.gemmRooflineMs),
      breakdownMs: {
        ...Object.fromEntries(Object.entries(parts).map(([k, v]) => [k.replace(/Ms$/, ''), round(v)])),
        ortModelRun: round(profile.modelRunMs),
        binding: round(profile.wallMs - profile.modelRunMs),
        kernelMatMul: round(profile.byOp['MatMul/Gemm'] ?? 0),
      },
    }),
  );
}

/** The step's parts (host timings from the timed steps, ORT's from the profiling run), one line each. */
function printBreakdown(threads: number, stepMs: number, parts: Parts, p: RunProfile) {
  const ms = (x: number) => `${x.toFixed(0).padStart(6)} ms`;
  const pct = (x: number, of: number) => `${((100 * x) / of).toFixed(1).padStart(5)}%`;
  const line = (label: string, x: number, of = stepMs) =>
    console.log(`  ${label.padEnd(58)} ${ms(x)} ${pct(x, of)}`);
  console.log(`breakdown of our step (${threads} threads, mean of the timed steps; % of the median step):`);
  line('onnxruntime runs (forward + backward + accumulation + binding)', parts.runMs);
  line('AdamW on the host (parameters and moments in place)', parts.adamwMs);
  line('global gradient norm (clipping) on the host', parts.normMs);
  line('zeroed gradient sums allocated', parts.zeroMs);
  line('rows packed into feeds (ids, masks, old log-probs, advantages)', parts.packMs);
  line('other (plan, metrics, between the parts)', parts.otherMs);
  console.log(`inside one onnxruntime run (profiling session; % of its wall time):`);
  line('session.run wall time', p.wallMs, p.wallMs);
  line('binding: feeds wrapped, outputs (the gradients) copied to JS', p.wallMs - p.modelRunMs, p.wallMs);
  line('ORT model_run outside kernels (allocation, scheduling)', p.modelRunMs - p.kernelMs, p.wallMs);
  const ops = Object.entries(p.byOp).sort((a, b) => b[1] - a[1]);
  for (const [opName, t] of ops.slice(0, 8)) line(`kernels: ${opName}`, t, p.wallMs);
  const rest = ops.slice(8).reduce((s, [, t]) => s + t, 0);
  line(`kernels: ${ops.length - 8 > 0 ? ops.length - 8 : 0} other op types`, rest, p.wallMs);
  console.log(
    `matmuls: ${(p.gemmFlops / 1e9).toFixed(1)} GFLOP; at onnxruntime's MatMul rate on each shape alone ${p.gemmRooflineMs.toFixed(0)} ms → gemmEfficiency ${(p.gemmRooflineMs / stepMs).toFixed(2)}`,
  );
  console.log('  each shape: batch×M×K×N (b: B batched too), kernels of that shape in the run, MatMul alone');
  for (const s of p.shapes)
    console.log(`  ${s.shape.padEnd(24)} ×${String(s.count).padStart(3)}  ${s.gflopPerS} GFLOP/s`);
}
