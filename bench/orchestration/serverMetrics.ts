/**
 * The dev server's own Prometheus metrics (its `--metrics-port`): the time its persistence layer — the
 * SQLite file, one connection — spent on reads and writes, read before and after a run. A hop makes a
 * handful of commits (activity completed, workflow task started and completed, activity started); what
 * they cost is part of every hop, and of the trivial workflow's hop too.
 */

export interface PersistenceTotals {
  /** Seconds spent in persistence calls, over every operation and service. */
  seconds: number;
  /** Persistence calls made. */
  operations: number;
}

const SERIES = /^persistence_latency_(sum|count)(?:\{[^}]*\})?\s+(\S+)$/;

/** The totals of the `persistence_latency` histogram in a Prometheus text exposition. */
export function persistenceTotals(exposition: string): PersistenceTotals {
  const totals = { seconds: 0, operations: 0 };
  let found = false;
  for (const line of exposition.split('\n')) {
    const match = SERIES.exec(line.trim());
    if (!match) continue;
    const value = Number(match[2]);
    if (!Number.isFinite(value)) throw new Error(`persistence_latency: not a number in "${line}"`);
    if (match[1] === 'sum') totals.seconds += value;
    else totals.operations += value;
    found = true;
  }
  if (!found) throw new Error('the server exposes no persistence_latency metric');
  return totals;
}

/** What happened between two readings. */
export function persistenceBetween(before: PersistenceTotals, after: PersistenceTotals): PersistenceTotals {
  return { seconds: after.seconds - before.seconds, operations: after.operations - before.operations };
}

/** Reads the totals now from the server's metrics endpoint. */
export async function readPersistence(metricsPort: number): Promise<PersistenceTotals> {
  const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  if (!response.ok) throw new Error(`the server's metrics answered ${response.status}`);
  return persistenceTotals(await response.text());
}
