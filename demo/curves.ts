/**
 * Accuracy, mean length and habits over GRPO steps, read back from the store: the held-out curve (the
 * sampled evaluations of the SFT model and of the run's checkpoints) and the training rollouts' curve (the
 * run's metrics log and rollout records). The habits need the responses' text, which the summaries leave
 * out, so each point reads its responses.
 */
import type { EvaluationRecord } from '../core/metrics/evaluation.ts';
import { runMetricsHistory } from '../core/metrics/history.ts';
import { readStepRecords, recordText } from '../core/metrics/rolloutRecords.ts';
import type { Table } from '../core/metrics/reportData.ts';
import type { ObjectStore } from '../core/store/objectStore.ts';
import { habitMix, type HabitMix } from './lengthHabits.ts';
import type { CurveEvaluation } from './pipeline.ts';

/** One row of a curve: the responses of a step (held-out or training), what they score and how they reason. */
export interface CurvePoint extends HabitMix {
  step: number;
  accuracy: number;
  meanLength: number;
}

export async function evaluationPoint(store: ObjectStore, e: CurveEvaluation): Promise<CurvePoint> {
  const records = JSON.parse(new TextDecoder().decode(await store.get(e.summary.key))) as EvaluationRecord[];
  return {
    step: e.step,
    accuracy: e.summary.accuracy,
    meanLength: e.summary.meanLength,
    ...habitMix(records.map((r) => r.text)),
  };
}

export async function heldOutCurve(
  store: ObjectStore,
  curve: readonly CurveEvaluation[],
): Promise<CurvePoint[]> {
  return Promise.all(curve.map((e) => evaluationPoint(store, e)));
}

export async function trainingCurve(store: ObjectStore, runId: string): Promise<CurvePoint[]> {
  const points: CurvePoint[] = [];
  for (const h of await runMetricsHistory(store, runId)) {
    const records = await readStepRecords(store, runId, h.step);
    const texts = records?.responses.map(recordText) ?? [];
    const m = h.metrics;
    points.push({ step: h.step, accuracy: m.accuracy, meanLength: m.meanResponseLength, ...habitMix(texts) });
  }
  return points;
}

/** A curve as a table: one row per step, with the habit mix. */
export function curveTable(title: string, points: readonly CurvePoint[]): Table {
  const f = (x: number, d = 3) => x.toFixed(d);
  return {
    title,
    columns: ['step', 'accuracy', 'mean length', 'reflection rate', 'direct', 'worked', 'checked', 'other'],
    rows: points.map((p) => [
      String(p.step),
      f(p.accuracy),
      f(p.meanLength, 1),
      f(p.reflectionRate),
      f(p.direct),
      f(p.worked),
      f(p.checked),
      f(p.other),
    ]),
  };
}

/** The change of the mean length from the first point to the last, in percent of the first. */
export function lengthChangePercent(points: readonly CurvePoint[]): number {
  const [first, last] = [points[0], points[points.length - 1]];
  return (100 * (last.meanLength - first.meanLength)) / first.meanLength;
}
