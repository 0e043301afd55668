/**
 * Dynamic sampling (DAPO): a group whose rewards are all equal has zero group-normalised advantage and
 * teaches nothing; drop it (and sample more prompts to fill the batch).
 */

/** Rewards closer than this count as equal (float noise from length terms). */
export const EQUAL_REWARD_TOLERANCE = 1e-9;

export function groupHasSignal(rewards: number[]): boolean {
  if (rewards.length < 2) return false;
  const first = rewards[0];
  return rewards.some((r) => Math.abs(r - first) > EQUAL_REWARD_TOLERANCE);
}

/** Indices of the groups to keep, and how many were dropped. */
export function dynamicSamplingFilter(groups: number[][]): { keep: number[]; dropped: number } {
  const keep: number[] = [];
  groups.forEach((g, i) => {
    if (groupHasSignal(g)) keep.push(i);
  });
  return { keep, dropped: groups.length - keep.length };
}

/**
 * The groups a step trains on when dynamic sampling refilled it (verl `filter_groups`: kept groups are
 * concatenated over generation rounds and the batch cut at train_batch_size): the first `target` groups
 * with `keep`, in sampling order; when the rounds ran out first, the batch is completed with the earliest
 * dropped groups, which stay out of the loss, so the trainer always sees `target` groups.
 */
export function refillSelection(keep: readonly boolean[], target: number): number[] {
  const kept: number[] = [];
  const dropped: number[] = [];
  keep.forEach((k, i) => (k ? kept : dropped).push(i));
  if (keep.length < target) {
    throw new RangeError(`refillSelection: ${keep.length} groups for a batch of ${target}`);
  }
  const chosen = kept.slice(0, target);
  chosen.push(...dropped.slice(0, target - chosen.length));
  return chosen.sort((a, b) => a - b);
}
