/**
 * Garbage-collection pauses of the bench's main thread, from Node's performance timeline ('gc' entries,
 * performance.now() milliseconds like the activity spans). A hop right after an activity that dropped
 * large arrays may wait for the collector before the main thread passes the next activation on.
 */
import { PerformanceObserver } from 'node:perf_hooks';

export interface Pause {
  start: number;
  duration: number;
}

/** Records every GC pause from now until `stop()`. */
export function recordGcPauses(): { pauses: Pause[]; stop(): void } {
  const pauses: Pause[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ start: e.startTime, duration: e.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  return { pauses, stop: () => observer.disconnect() };
}

/** Milliseconds of pause inside the intervals (a pause straddling an edge counts its part inside). */
export function pauseMsWithin(
  pauses: readonly Pause[],
  intervals: readonly { start: number; end: number }[],
): number {
  let total = 0;
  for (const p of pauses) {
    for (const i of intervals) {
      total += Math.max(0, Math.min(p.start + p.duration, i.end) - Math.max(p.start, i.start));
    }
  }
  return total;
}
