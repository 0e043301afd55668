/**
 * Where our rollout time goes, for whoever optimises the decode path: prefill vs decode steps; per step,
 * session.run vs JS sampling vs building feeds (the instrumented copy of the loop on the same compiled
 * session as the Generator); and inside session.run, ORT's kernels by part plus the binding's share
 * (profiling session). The headline figure never comes from here, only from the real Generator.
 */
import { Executable } from '../../core/graph/index.ts';
import { buildQwen2Decode } from '../../core/model/qwen2.ts';
import { instrumentedRollout, type LoopTimings } from './instrumentedLoop.ts';
import {
  KERNEL_CATEGORIES,
  profilingRunner,
  type KernelCategory,
  type ProfileSummary,
} from './ortProfile.ts';
import type { RolloutWorkload } from './workload.ts';

export interface Breakdown {
  threads: number;
  loop: Omit<LoopTimings, 'tokens'>;
  profile: ProfileSummary;
}

function sameTokens(a: readonly number[][], b: readonly number[][]): boolean {
  return (
    a.length === b.length &&
    a.every((row, i) => row.length === b[i].length && row.every((t, j) => t === b[i][j]))
  );
}

/** `reference`: the real Generator's tokens for `seed` at `threads` (the copy must reproduce them). */
export async function measureBreakdown(
  workload: RolloutWorkload,
  threads: number,
  reference: { seed: number; tokens: number[][] },
): Promise<Breakdown> {
  const c = workload.config;
  // Same graph and options as Generator.create (weights compiled in): the session cache hands back the
  // Generator's session, so the copy of its loop runs exactly the same kernels.
  const weights = {};
  const exec = await Executable.compile(buildQwen2Decode(c, 'float32', workload.weights).graph, {
    intraOpThreads: threads,
  });
  const { tokens, ...loop } = await instrumentedRollout(
    (f) => exec.run(f),
    weights,
    c,
    workload.prompts,
    reference.seed,
  );
  if (!sameTokens(tokens, reference.tokens))
    throw new Error(
      "breakdown: the instrumented loop does not reproduce the Generator's tokens (update bench/rollout/instrumentedLoop.ts)",
    );
  const profiler = await profilingRunner(c, threads, workload.weights);
  const profiled = await instrumentedRollout(profiler.runner, weights, c, workload.prompts, reference.seed);
  if (!sameTokens(profiled.tokens, reference.tokens))
    throw new Error("breakdown: the profiling session does not reproduce the Generator's tokens");
  return { threads, loop, profile: await profiler.finish() };
}

const ms = (x: number) => `${x.toFixed(1)} ms`;
const pct = (x: number, of: number) => `${((100 * x) / of).toFixed(0)}%`;

/** Human lines: per-rollout totals and per-decode-step averages. */
export function formatBreakdown(b: Breakdown): string[] {
  const { loop, profile } = b;
  const steps = loop.decodeSteps;
  const per = (x: number) => ms(x / steps);
  const lines = [
    `ours breakdown (${b.threads} intra-op threads, one instrumented rollout): total ${ms(loop.totalMs)} = prefill run ${ms(loop.prefillRunMs)} + ${steps} decode runs ${ms(loop.decodeRunMs)} (${pct(loop.decodeRunMs, loop.totalMs)}) + JS sampling ${ms(loop.samplingMs)} (${pct(loop.samplingMs, loop.totalMs)}) + feed building ${ms(loop.feedsMs)} (${pct(loop.feedsMs, loop.totalMs)})`,
    `  per decode step: session.run ${per(loop.decodeRunMs)}, sampling 32 rows ${ms(loop.samplingMs / (steps + 1))}, feeds ${per(loop.feedsMs)}`,
    `  inside session.run (profiling session, per decode step): wall ${per(profile.decodeWallMs)} = ORT model_run ${per(profile.decodeOrtMs)} + binding (feed wrap + copying all outputs, i.e. the KV cache, into JS) ${per(profile.decodeWallMs - profile.decodeOrtMs)}; prefill model_run ${ms(profile.prefillOrtMs)}`,
  ];
  const kernelTotal = KERNEL_CATEGORIES.reduce((s, k) => s + profile.decodeKernelMs[k], 0);
  for (const k of KERNEL_CATEGORIES)
    lines.push(
      `    ${k.padEnd(16)} ${per(profile.decodeKernelMs[k]).padStart(9)}  ${pct(profile.decodeKernelMs[k], kernelTotal).padStart(4)} of kernel time`,
    );
  return lines;
}

/** The machine-readable form (per decode step, ms). */
export function breakdownJson(b: Breakdown): Record<string, unknown> {
  const steps = b.loop.decodeSteps;
  const r = (x: number) => Math.round(x * 100) / 100;
  const kernels = Object.fromEntries(
    KERNEL_CATEGORIES.map((k: KernelCategory) => [k, r(b.profile.decodeKernelMs[k] / steps)]),
  );
  return {
    bench: 'rollout-breakdown',
    threads: b.threads,
    totalMs: r(b.loop.totalMs),
    prefillRunMs: r(b.loop.prefillRunMs),
    decodeSteps: steps,
    perStepMs: {
      sessionRun: r(b.loop.decodeRunMs / steps),
      sampling: r(b.loop.samplingMs / (steps + 1)),
      feeds: r(b.loop.feedsMs / steps),
      ortModelRun: r(b.profile.decodeOrtMs / steps),
      binding: r((b.profile.decodeWallMs - b.profile.decodeOrtMs) / steps),
      kernels,
    },
  };
}
