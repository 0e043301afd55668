/** What the rollout bench times: one side (ours or a reference) at one thread count. */

export type SideName = 'ours' | 'ours, 1 token per run' | 'torch' | 'transformers.js';

export interface RolloutSide {
  name: SideName;
  threads: number;
  /** One full rollout (batch × new tokens); resolves to its wall-clock seconds. */
  run(seed: number): Promise<number>;
}

/** A reference that could not run, and why (the bench still prints our figure). */
export interface Unavailable {
  name: SideName;
  reason: string;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
