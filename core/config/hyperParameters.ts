import { z } from 'zod';
import { clipConfigSchema, klConfigSchema, optimizerConfigSchema, rlAlgorithmSchema } from './rl.ts';
import type { RunConfig } from './run.ts';
import { issueText } from './rules.ts';
import { policySamplingSchema } from './sampling.ts';

/**
 * The hyper-parameters a running rlTraining accepts through its `setHyperParameters` update: the knobs a
 * verl / TRL user turns mid-run. Each is a run-config field (HYPER_PARAMETER_PATHS) with that field's
 * rule; an update sets some of them and the run uses base config + every override received so far.
 * Workflow code imports this file (the update's validator runs inside the workflow), so it depends on
 * zod, rl.ts and sampling.ts only — run.ts is imported for its type, never at run time.
 */

/** Where each hyper-parameter lives in the run config (core/config/run.ts, core/config/rl.ts). */
export const HYPER_PARAMETER_PATHS = {
  /** Peak learning rate of algorithm.optimizer.schedule (the rate itself under "constant"). */
  lr: ['algorithm', 'optimizer', 'lr'],
  /** KL coefficient β: the base of algorithm.kl.schedule. */
  klCoef: ['algorithm', 'kl', 'coef'],
  entropyCoef: ['algorithm', 'entropyCoef'],
  /** PPO-clip ε_low and ε_high. */
  clipLow: ['algorithm', 'clip', 'low'],
  clipHigh: ['algorithm', 'clip', 'high'],
  /** Sampling temperature; the loss scores tokens under π/T with the same T. */
  temperature: ['rollout', 'temperature'],
  topP: ['rollout', 'topP'],
} as const;

export type HyperParameterName = keyof typeof HYPER_PARAMETER_PATHS;
export const HYPER_PARAMETER_NAMES = Object.keys(HYPER_PARAMETER_PATHS) as HyperParameterName[];

/**
 * Every field optional; an unknown key is an error. The rules are the run config's own: rl.ts for the
 * algorithm, sampling.ts for the rollout (run.ts cannot be bundled into workflow code: it reaches node:fs).
 */
export const hyperParametersSchema = z.strictObject({
  lr: optimizerConfigSchema.shape.lr.unwrap().optional(),
  klCoef: klConfigSchema.shape.coef.unwrap().optional(),
  entropyCoef: rlAlgorithmSchema.shape.entropyCoef.unwrap().optional(),
  clipLow: clipConfigSchema.shape.low.unwrap().optional(),
  clipHigh: clipConfigSchema.shape.high.unwrap().optional(),
  temperature: policySamplingSchema.shape.temperature.unwrap().optional(),
  topP: policySamplingSchema.shape.topP,
});

/** Overrides: the hyper-parameters an update (or all updates so far, merged) set. */
export type HyperParameters = z.output<typeof hyperParametersSchema>;

/** The values a step runs with (topP absent = no nucleus truncation). */
export interface HyperParameterValues {
  lr: number;
  klCoef: number;
  entropyCoef: number;
  clipLow: number;
  clipHigh: number;
  temperature: number;
  topP?: number;
}

/** Thrown for an update that does not validate; one `name rule (got value)` line per problem. */
export class HyperParameterError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid hyper-parameters: ${issues.join('; ')}`);
    this.name = 'HyperParameterError';
  }
}

/** `lr must be a number > 0 (got -1)`, `unknown hyper-parameter "lrr" (one of lr, klCoef, …)`. */
function issueLine(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
    return `unknown hyper-parameter${issue.keys.length > 1 ? 's' : ''} ${keys} (one of ${HYPER_PARAMETER_NAMES.join(', ')})`;
  }
  const name = issue.path.map(String).join('.');
  return `${name ? `${name} ` : 'hyper-parameters '}${issueText(issue)}`;
}

/** Validates an update's argument: at least one known hyper-parameter, each within its field's rule. */
export function parseHyperParameters(raw: unknown): HyperParameters {
  const parsed = hyperParametersSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw new HyperParameterError(parsed.error.issues.map(issueLine));
  const set = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined));
  if (Object.keys(set).length === 0) {
    throw new HyperParameterError([`set at least one of ${HYPER_PARAMETER_NAMES.join(', ')}`]);
  }
  checkClipOrder(set);
  return set as HyperParameters;
}

/** algorithm.clip's rule (rl.ts) on the values a step would run with: ε_low ≤ ε_high. */
export function checkClipOrder(values: { clipLow?: number; clipHigh?: number }): void {
  const { clipLow, clipHigh } = values;
  if (clipLow !== undefined && clipHigh !== undefined && clipLow > clipHigh) {
    throw new HyperParameterError([`clipLow must be at most clipHigh (${clipHigh}) (got ${clipLow})`]);
  }
}

/** The hyper-parameters of a parsed run config, before any override. */
export function baseHyperParameters(config: RunConfig): HyperParameterValues {
  const a = config.algorithm;
  return {
    lr: a.optimizer.lr,
    klCoef: a.kl.coef,
    entropyCoef: a.entropyCoef,
    clipLow: a.clip.low,
    clipHigh: a.clip.high,
    temperature: config.rollout.temperature,
    ...(config.rollout.topP !== undefined ? { topP: config.rollout.topP } : {}),
  };
}

/** Later overrides win, field by field. */
export function mergeHyperParameters(...layers: HyperParameters[]): HyperParameters {
  const merged: HyperParameters = {};
  for (const layer of layers) {
    for (const name of HYPER_PARAMETER_NAMES) if (layer[name] !== undefined) merged[name] = layer[name];
  }
  return merged;
}

export function effectiveHyperParameters(
  base: HyperParameterValues,
  overrides: HyperParameters,
): HyperParameterValues {
  return { ...base, ...mergeHyperParameters(overrides) };
}

/**
 * The config with every override written at its path (HYPER_PARAMETER_PATHS); works on a raw config as
 * given to the workflow and on a parsed one. Pure: `config` is not modified, untouched sections are shared.
 */
export function withHyperParameters<C extends object>(config: C, overrides: HyperParameters): C {
  const out = { ...config } as Record<string, unknown>;
  for (const name of HYPER_PARAMETER_NAMES) {
    const value = overrides[name];
    if (value === undefined) continue;
    const path = HYPER_PARAMETER_PATHS[name];
    let node = out;
    for (const key of path.slice(0, -1)) {
      const child = node[key];
      node[key] = typeof child === 'object' && child !== null ? { ...child } : {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
  return out as C;
}

/**
 * Overrides travel with each checkpoint as metrics `hyperParameters.<name>`: those in force for the step
 * after it, so a run resumed from that checkpoint goes on with them.
 */
export const HYPER_PARAMETER_METRIC_PREFIX = 'hyperParameters.';

export function hyperParameterMetrics(overrides: HyperParameters): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const name of HYPER_PARAMETER_NAMES) {
    const value = overrides[name];
    if (value !== undefined) metrics[`${HYPER_PARAMETER_METRIC_PREFIX}${name}`] = value;
  }
  return metrics;
}

/** The overrides a checkpoint's metrics record (none for a checkpoint written before any update). */
export function hyperParametersFromMetrics(metrics: Record<string, number>): HyperParameters {
  const found: Record<string, number> = {};
  for (const name of HYPER_PARAMETER_NAMES) {
    const value = metrics[`${HYPER_PARAMETER_METRIC_PREFIX}${name}`];
    if (value !== undefined) found[name] = value;
  }
  const parsed = hyperParametersSchema.safeParse(found, { reportInput: true });
  if (!parsed.success) {
    throw new HyperParameterError(parsed.error.issues.map((i) => `checkpoint metrics: ${issueLine(i)}`));
  }
  return mergeHyperParameters(parsed.data);
}
