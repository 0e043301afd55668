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
