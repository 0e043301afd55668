/**
 * The memory estimate of a run, per worker role (rollout, reference scorer, trainer), from the formulas of
 * memoryFormulas.ts, and the check that refuses a run whose role cannot fit the worker — with the numbers —
 * before anything starts. `reasonloop plan` prints it; `reasonloop train` runs the same check.
 */
import type { Qwen2Config } from '../model/config.ts';
import { qwen2ParameterCount } from '../model/parameters.ts';
import { logProbChunking } from '../model/tokenLogProbs.ts';
import { trainerTerms } from './memoryTrainer.ts';
import {
  forwardWorkingBytes,
  halfBaseBytes,
  halfBaseCastBytes,
  kvCacheBytes,
  logitsBlockBytes,
  RUNTIME_BASE_BYTES,
  weightBytes,
} from './memoryFormulas.ts';
import type { RunConfig } from './run.ts';

/** Rows per forward pass of the reference scorer (ResponseScorer's default batch). */
export const SCORER_ROWS = 16;
/** Prompt length assumed when the task does not fix it (text tasks); `--prompt-tokens` overrides it. */
export const DEFAULT_PROMPT_TOKENS = 512;

export interface MemoryTerm {
  name: string;
  bytes: number;
}

export interface RolePlan {
  role: 'rollout' | 'reference scorer' | 'trainer';
  terms: MemoryTerm[];
  total: number;
}

/** The prompt length of the task: reverseDigits knows it (digits + separator); text tasks take the default. */
export function taskPromptTokens(run: RunConfig): number {
  return run.task.kind === 'reverseDigits' ? run.task.digits + 1 : DEFAULT_PROMPT_TOKENS;
}

function role(name: RolePlan['role'], terms: MemoryTerm[]): RolePlan {
  const all = [...terms, { name: 'runtime', bytes: RUNTIME_BASE_BYTES }];
  return { role: name, terms: all, total: all.reduce((s, t) => s + t.bytes, 0) };
}

export function memoryPlan(
  model: Qwen2Config,
  run: RunConfig,
  promptTokens = taskPromptTokens(run),
): RolePlan[] {
  const params = qwen2ParameterCount(model);
  const length = promptTokens + run.rollout.maxNewTokens;
  const chunking = logProbChunking(run.algorithm.logProbChunkTokens, model.vocabSize);
  const rolloutRows = Math.ceil((run.rollout.promptsPerStep * run.rollout.n) / run.rollout.shards);
  const micro = run.algorithm.microBatchSize;
  const half = run.rollout.weightDtype === 'float16';
  // A LoRA run's float16 base is what its scorer feeds too (activities/referenceLogProbs.ts).
  const halfBase = run.algorithm.lora?.baseDtype === 'float16';
  return [
    role('rollout', [
      { name: 'weights', bytes: weightBytes(params, half) },
      {
        name: `KV cache (${rolloutRows} rows × ${length} tokens)`,
        bytes: kvCacheBytes(model, rolloutRows, length),
      },
      { name: 'prefill activations', bytes: forwardWorkingBytes(model, rolloutRows, promptTokens) },
      {
        name: 'logits (last position)',
        bytes: logitsBlockBytes(rolloutRows, model.vocabSize, { chunkTokens: 0, vocabWidth: 0 }, false),
      },
    ]),
    role('reference scorer', [
      ...(halfBase
        ? [
            { name: 'weights (LoRA base, float16 matrices)', bytes: halfBaseBytes(model) },
            { name: 'float32 casts of the base (LM head, one layer)', bytes: halfBaseCastBytes(model) },
          ]
        : [{ name: 'weights', bytes: weightBytes(params) }]),
      {
        name: `activations (${SCORER_ROWS} rows × ${length} tokens)`,
        bytes: forwardWorkingBytes(model, SCORER_ROWS, length),
      },
      {
        name: 'logits block',
        bytes: logitsBlockBytes(SCORER_ROWS * length, model.vocabSize, chunking, false),
      },
    ]),
    role(
      'trainer',
      trainerTerms(model, {
        rows: micro,
        length,
        chunking,
        recompute: run.algorithm.gradientCheckpointing,
        lora: run.algorithm.lora,
        baseDtype: run.algorithm.lora?.baseDtype,
      }),
    ),
  ];
}

export function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The plan as lines: each role's terms and total against the worker's memory. */
export function formatMemoryPlan(plan: readonly RolePlan[], memoryBytes: number): string[] {
  const lines: string[] = [];
  for (const r of plan) {
    const verdict = r.total > memoryBytes ? 'DOES NOT FIT' : 'fits';
    lines.push(`${r.role}: ${formatBytes(r.total)} of ${formatBytes(memoryBytes)} — ${verdict}`);
    for (const t of r.terms) lines.push(`  ${t.name.padEnd(42)} ${formatBytes(t.bytes).padStart(10)}`);
  }
  return lines;
}

/** Roles that exceed the worker's memory; an error names each with its estimate. */
export function checkMemoryPlan(plan: readonly RolePlan[], memoryBytes: number): void {
  const over = plan.filter((r) => r.total > memoryBytes);
  if (over.length === 0) return;
  const what = over.map((r) => `${r.role} needs ${formatBytes(r.total)}`).join(', ');
  throw new Error(
    `the run does not fit a worker with ${formatBytes(memoryBytes)}: ${what} (reasonloop plan prints every term)`,
  );
}
