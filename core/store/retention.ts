import {
  checkpointKey,
  manifestKey,
  objectGroup,
  OPTIMIZER_GROUP,
  parseRolloutRecordsKey,
  rolloutRecordsKey,
  rolloutRecordsPrefix,
  stepPrefix,
} from './keys.ts';
import { decodeManifest, encodeManifest, signManifest } from './manifest.ts';
import type { ObjectStore } from './objectStore.ts';
import { latestVerifiedCheckpoint, listCheckpointSteps } from './checkpoint.ts';

/**
 * How much history to keep. The newest `keepLastOptimizerStates` checkpoints stay whole (resumable);
 * older ones whose step is a multiple of `keepWeightsEvery` keep everything but the optimizer state (for
 * evaluation); the rest are deleted.
 */
export interface RetentionPolicy {
  keepLastOptimizerStates: number;
  keepWeightsEvery: number;
  /** Steps that are multiples of this also keep their weights: they serve as KL references (0/absent: none). */
  referenceEvery?: number;
  /**
   * The readable rollout records (`runs/<runId>/records/`) of this many newest steps stay, and older ones
   * of steps that are multiples of keepWeightsEvery; the rest are deleted. Absent: all stay.
   */
  keepLastRolloutRecords?: number;
}

export interface RetentionPlan {
  /** Checkpoints kept whole. */
  keep: number[];
  /** Checkpoints that lose their optimizer group (manifest rewritten first, then the objects deleted). */
  pruneOptimizer: number[];
  /** Checkpoints deleted entirely (manifest first), and manifest-less leftovers older than the anchor. */
  delete: number[];
}

export function assertRetentionPolicy(policy: RetentionPolicy): void {
  for (const field of ['keepLastOptimizerStates', 'keepWeightsEvery', 'keepLastRolloutRecords'] as const) {
    const value = policy[field];
    if (field === 'keepLastRolloutRecords' && value === undefined) continue;
    if (!Number.isSafeInteger(value) || value! < 1) {
      throw new Error(`retention.${field} must be a positive integer (got ${value})`);
    }
  }
}

/**
 * Decides what to delete. Only steps at or below `newestVerifiedStep` (the anchor, the checkpoint a resume
 * would use) are touched; the anchor itself is always among the kept ones. With no anchor, nothing is
 * deleted: a run whose checkpoints all fail to verify keeps every byte for inspection.
 */
export function retentionPlan(
  steps: { withManifest: readonly number[]; withoutManifest: readonly number[]; pruned: readonly number[] },
  newestVerifiedStep: number | undefined,
  policy: RetentionPolicy,
): RetentionPlan {
  assertRetentionPolicy(policy);
  const plan: RetentionPlan = { keep: [], pruneOptimizer: [], delete: [] };
  if (newestVerifiedStep === undefined) {
    plan.keep = [...steps.withManifest].sort((a, b) => a - b);
    return plan;
  }
  const candidates = steps.withManifest.filter((s) => s <= newestVerifiedStep).sort((a, b) => b - a);
  const pruned = new Set(steps.pruned);
  candidates.forEach((step, rank) => {
    if (rank < policy.keepLastOptimizerStates || step === newestVerifiedStep) plan.keep.push(step);
    else if (
      step % policy.keepWeightsEvery === 0 ||
      (policy.referenceEvery && step % policy.referenceEvery === 0)
    )
      (pruned.has(step) ? plan.keep : plan.pruneOptimizer).push(step);
    else plan.delete.push(step);
  });
  plan.keep.push(...steps.withManifest.filter((s) => s > newestVerifiedStep));
  plan.delete.push(...steps.withoutManifest.filter((s) => s < newestVerifiedStep));
  for (const list of [plan.keep, plan.pruneOptimizer, plan.delete]) list.sort((a, b) => a - b);
  return plan;
}

/**
 * The steps whose rollout records go: at or below the anchor, older than the newest
 * `keepLastRolloutRecords` steps, and not a multiple of keepWeightsEvery (those stay, as sparse history a
 * long run can still browse). Nothing without an anchor or without a records limit.
 */
export function rolloutRecordsToDelete(
  recordSteps: readonly number[],
  newestVerifiedStep: number | undefined,
  policy: RetentionPolicy,
): number[] {
  const keepLast = policy.keepLastRolloutRecords;
  if (newestVerifiedStep === undefined || keepLast === undefined) return [];
  return recordSteps
    .filter((s) => s <= newestVerifiedStep - keepLast && s % policy.keepWeightsEvery !== 0)
    .sort((a, b) => a - b);
}

/**
 * Applies `retentionPlan` to a run. Every intermediate state is safe: a deleted checkpoint loses its
 * manifest before its objects, a pruned one gets its smaller manifest before its optimizer objects go.
 */
export async function applyRetention(
  store: ObjectStore,
  runId: string,
  policy: RetentionPolicy,
): Promise<RetentionPlan & { newestVerifiedStep: number | undefined; deletedRolloutRecords: number[] }> {
  assertRetentionPolicy(policy);
  const newest = (await latestVerifiedCheckpoint(store, runId)).manifest?.step;
  const steps = await listCheckpointSteps(store, runId);
  const pruned: number[] = [];
  for (const step of steps.withManifest) {
    if (newest === undefined || step >= newest) continue;
    const decoded = decodeManifest(await store.get(manifestKey(runId, step)), { runId, step });
    if ('manifest' in decoded && decoded.manifest.prunedGroups.includes(OPTIMIZER_GROUP)) pruned.push(step);
  }
  const plan = retentionPlan({ ...steps, pruned }, newest, policy);

  for (const step of plan.delete) {
    await store.delete(manifestKey(runId, step));
    const rest = (await store.list(stepPrefix(runId, step))).map((o) => o.key);
    await store.deleteMany(rest);
  }
  for (const step of plan.pruneOptimizer) {
    const decoded = decodeManifest(await store.get(manifestKey(runId, step)), { runId, step });
    if ('problem' in decoded) {
      // A manifest that does not verify cannot be rewritten safely; the whole checkpoint is useless anyway.
      await store.delete(manifestKey(runId, step));
      await store.deleteMany((await store.list(stepPrefix(runId, step))).map((o) => o.key));
      continue;
    }
    const { manifest } = decoded;
    const dropped = manifest.objects.filter((o) => objectGroup(o.name) === OPTIMIZER_GROUP);
    const { manifestSha256: _old, ...body } = manifest;
    const smaller = signManifest({
      ...body,
      objects: manifest.objects.filter((o) => objectGroup(o.name) !== OPTIMIZER_GROUP),
      prunedGroups: [...new Set([...manifest.prunedGroups, OPTIMIZER_GROUP])].sort(),
    });
    await store.put(manifestKey(runId, step), encodeManifest(smaller));
    await store.deleteMany(dropped.map((o) => checkpointKey(runId, step, o.name)));
  }
  const recordSteps = (await store.list(rolloutRecordsPrefix(runId)))
    .map((o) => parseRolloutRecordsKey(runId, o.key))
    .filter((s): s is number => s !== undefined);
  const deletedRolloutRecords = rolloutRecordsToDelete(recordSteps, newest, policy);
  await store.deleteMany(deletedRolloutRecords.map((s) => rolloutRecordsKey(runId, s)));
  return { ...plan, newestVerifiedStep: newest, deletedRolloutRecords };
}
