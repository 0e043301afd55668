/**
 * Where a run's objects live: `runs/<runId>/steps/000012/<name>`, e.g.
 * `runs/r1/steps/000012/weights/model.safetensors`; the manifest is `…/000012/manifest.json`.
 */

/** Zero-padded so keys sort in step order for steps below a million (parsing never relies on it). */
export const STEP_DIGITS = 6;
export const MANIFEST_NAME = 'manifest.json';
/** Model directory files (config.json, model.safetensors, tokenizer files). */
export const WEIGHTS_GROUP = 'weights';
/** Optimizer moments and step counters: as large as the weights twice over, so kept for fewer steps. */
export const OPTIMIZER_GROUP = 'optimizer';
/** A run id is one key segment that is also safe as a Temporal workflow id and a folder name. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function assertRunId(runId: string): void {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new Error(
      `run id must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit (got ${JSON.stringify(runId)})`,
    );
  }
}

export function assertStep(step: number): void {
  if (!Number.isSafeInteger(step) || step < 0)
    throw new Error(`checkpoint step must be a non-negative integer (got ${step})`);
}

export function padStep(step: number): string {
  assertStep(step);
  return String(step).padStart(STEP_DIGITS, '0');
}

export function runPrefix(runId: string): string {
  assertRunId(runId);
  return `runs/${runId}/`;
}

export function stepsPrefix(runId: string): string {
  return `${runPrefix(runId)}steps/`;
}

export function stepPrefix(runId: string, step: number): string {
  return `${stepsPrefix(runId)}${padStep(step)}/`;
}

/** The key of object `name` (e.g. `weights/model.safetensors`) in the checkpoint of `step`. */
export function checkpointKey(runId: string, step: number, name: string): string {
  return stepPrefix(runId, step) + name;
}

export function manifestKey(runId: string, step: number): string {
  return checkpointKey(runId, step, MANIFEST_NAME);
}

/** The step and the object name within it, for a key under `stepsPrefix(runId)`; undefined otherwise. */
export function parseCheckpointKey(runId: string, key: string): { step: number; name: string } | undefined {
  const prefix = stepsPrefix(runId);
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  const digits = rest.slice(0, slash);
  if (!/^\d+$/.test(digits)) return undefined;
  const step = Number(digits);
  return Number.isSafeInteger(step) ? { step, name: rest.slice(slash + 1) } : undefined;
}

/** The group of an object name is its first segment: `weights/model.safetensors` → `weights`. */
export function objectGroup(name: string): string {
  const slash = name.indexOf('/');
  return slash < 0 ? name : name.slice(0, slash);
}

/** Where a run's readable rollout records live, one file per step (core/metrics/rolloutRecords.ts). */
export function rolloutRecordsPrefix(runId: string): string {
  return `${runPrefix(runId)}records/`;
}

export function rolloutRecordsKey(runId: string, step: number): string {
  return `${rolloutRecordsPrefix(runId)}${padStep(step)}.json`;
}

/** The step of a key under `rolloutRecordsPrefix(runId)`; undefined for anything else. */
export function parseRolloutRecordsKey(runId: string, key: string): number | undefined {
  const prefix = rolloutRecordsPrefix(runId);
  if (!key.startsWith(prefix)) return undefined;
  const m = /^(\d+)\.json$/.exec(key.slice(prefix.length));
  const step = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(step) ? step : undefined;
}
