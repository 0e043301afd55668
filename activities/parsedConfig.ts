/**
 * Configs parsed once per worker process. Activities receive a config as JSON, exactly as its workflow
 * was given it (a worker in another language can serve the same queue); the first activity in a process
 * to see a config parses it, and every later one — each step's sampling, scoring, update and checkpoint —
 * gets the same parsed object back. The key is the config's content, so a changed config (a resumed run's
 * new orchestration, a step with hyper-parameter overrides written in) is parsed anew.
 */
import { RunConfigError } from '../core/config/run.ts';
import { configHash } from '../core/store/index.ts';
import { FAILURE, permanent } from './failures.ts';

/**
 * Parsed configs kept per parser: a few runs' worth (a step with overrides is a config of its own), so a
 * long-lived worker that serves many runs does not keep every config it has seen.
 */
const KEPT_PER_PARSER = 16;

const cache = new Map<(raw: unknown) => unknown, Map<string, unknown>>();
let parses = 0;

/** How many configs this process has parsed (each parse a cache miss), for tests and diagnostics. */
export function configParses(): number {
  return parses;
}

/** The content key of a raw config; none for a value JSON cannot carry (parsing will name it). */
function contentKey(raw: unknown): string | undefined {
  try {
    return configHash(raw);
  } catch {
    return undefined;
  }
}

/**
 * `parse(raw)`, once per distinct config in this process. The result is shared: callers must not modify
 * it. A config error is non-retryable (it would fail the same way on every attempt); errors are not cached.
 */
export function parsedConfig<T>(parse: (raw: unknown) => T, raw: unknown): T {
  let kept = cache.get(parse) as Map<string, T> | undefined;
  if (!kept) {
    kept = new Map();
    cache.set(parse, kept);
  }
  const key = contentKey(raw);
  const hit = key === undefined ? undefined : kept.get(key);
  if (hit !== undefined) {
    // Most recently used last: the oldest config is the one forgotten.
    kept.delete(key!);
    kept.set(key!, hit);
    return hit;
  }
  parses++;
  let config: T;
  try {
    config = parse(raw);
  } catch (error) {
    if (error instanceof RunConfigError) throw permanent(FAILURE.config, error.message);
    throw error;
  }
  if (key !== undefined) {
    if (kept.size >= KEPT_PER_PARSER) kept.delete(kept.keys().next().value!);
    kept.set(key, config);
  }
  return config;
}
