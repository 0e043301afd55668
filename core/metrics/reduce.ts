/**
 * One value per metric from many records (one per mini-batch of an update), as verl's `reduce_metrics`
 * does with the lists its actor appends to: the maximum for a name containing "max", the minimum for
 * one containing "min", the mean otherwise. A metric missing from some records is reduced over the
 * records that have it.
 */
export function reduceMetrics(records: readonly Record<string, number>[]): Record<string, number> {
  const lists = new Map<string, number[]>();
  for (const record of records) {
    for (const [name, value] of Object.entries(record)) {
      const list = lists.get(name);
      if (list) list.push(value);
      else lists.set(name, [value]);
    }
  }
  const out: Record<string, number> = {};
  for (const [name, values] of lists) {
    const lower = name.toLowerCase();
    if (lower.includes('max')) out[name] = Math.max(...values);
    else if (lower.includes('min')) out[name] = Math.min(...values);
    else out[name] = values.reduce((a, b) => a + b, 0) / values.length;
  }
  return out;
}
