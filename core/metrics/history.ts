/**
 * A run's metrics over time, as a log in the store next to its checkpoints: one small JSON object per
 * checkpoint, `runs/<runId>/metrics/<step>.json`, holding the records of every step since the previous
 * one. Checkpoint retention never touches it, so a report can plot every step of a run long after most of
 * its checkpoints are gone.
 */
import { padStep, runPrefix } from '../store/keys.ts';
import type { ObjectStore } from '../store/objectStore.ts';

export interface StepMetrics {
  step: number;
  metrics: Record<string, number>;
}

export function metricsPrefix(runId: string): string {
  return `${runPrefix(runId)}metrics/`;
}

export function metricsKey(runId: string, step: number): string {
  return `${metricsPrefix(runId)}${padStep(step)}.json`;
}

/** Records the metrics of the steps a checkpoint covers (rewriting the same step's object is harmless). */
export async function writeStepMetrics(
  store: ObjectStore,
  runId: string,
  step: number,
  records: readonly StepMetrics[],
): Promise<void> {
  await store.put(metricsKey(runId, step), new TextEncoder().encode(JSON.stringify(records)));
}

/**
 * Every recorded step of a run, ascending; when a step was recorded twice (a chunk re-run after a crash
 * before its checkpoint), the newer object wins.
 */
export async function runMetricsHistory(store: ObjectStore, runId: string): Promise<StepMetrics[]> {
  const byStep = new Map<number, StepMetrics>();
  const keys = (await store.list(metricsPrefix(runId))).map((o) => o.key).sort();
  for (const key of keys) {
    const records = JSON.parse(new TextDecoder().decode(await store.get(key))) as StepMetrics[];
    for (const r of records) byStep.set(r.step, r);
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** One metric as chart points (steps where it is missing or not finite are left out). */
export function metricSeries(history: readonly StepMetrics[], name: string): { x: number; y: number }[] {
  return history
    .filter((h) => Number.isFinite(h.metrics[name]))
    .map((h) => ({ x: h.step, y: h.metrics[name] }));
}
