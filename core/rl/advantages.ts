/**
 * Advantages from outcome rewards (one scalar per response), as in verl's core_algos.py.
 *
 * Responses are grouped by prompt: `groupIds[i]` names the prompt of response i (any integers), or use
 * `groupIdsFromLayout(prompts, n)` for the usual [prompt][sample] order. The advantage of a response is
 * broadcast to every loss token of that response by the caller.
 *
 * Conventions (all from verl, so the graph versions and verl agree):
 * - group std is the unbiased one (torch.std, divisor n − 1);
 * - a group of one response has mean 0 and std 1, so its advantage is its reward (no baseline exists);
 * - a group whose rewards are all equal gets advantages of exactly 0 (never NaN, never ±1e-9 from
 *   rounding in the mean).
 */

/** ε of GRPO's (r − mean)/(std + ε): STILL-3's value (DESIGN §6); verl's default is 1e-6. */
export const GRPO_EPSILON = 1e-8;
/** ε inside REINFORCE++'s whitening, (r − mean)/√(var + ε): verl's masked_whiten. */
export const WHITEN_EPSILON = 1e-8;

/** Group ids for `prompts` prompts with `n` responses each, laid out prompt-major: [0,0,…,1,1,…]. */
export function groupIdsFromLayout(prompts: number, n: number): Int32Array {
  if (!Number.isInteger(prompts) || prompts < 0) {
    throw new RangeError(`groupIdsFromLayout: prompts must be an integer ≥ 0 (got ${prompts})`);
  }
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`groupIdsFromLayout: n must be a positive integer (got ${n})`);
  }
  const ids = new Int32Array(prompts * n);
  for (let p = 0; p < prompts; p++) ids.fill(p, p * n, (p + 1) * n);
  return ids;
}

function checkRewards(fn: string, rewards: ArrayLike<number>, groupIds?: ArrayLike<number>): void {
  for (let i = 0; i < rewards.length; i++) {
    if (!Number.isFinite(rewards[i]))
      throw new RangeError(`${fn}: rewards[${i}] is not finite (got ${rewards[i]})`);
  }
  if (groupIds && groupIds.length !== rewards.length) {
    throw new RangeError(`${fn}: groupIds has ${groupIds.length} entries, rewards has ${rewards.length}`);
  }
}

/** Response indices per group, groups in order of first appearance. */
export function groupMembers(groupIds: ArrayLike<number>): number[][] {
  const byId = new Map<number, number[]>();
  for (let i = 0; i < groupIds.length; i++) {
    const members = byId.get(groupIds[i]);
    if (members) members.push(i);
    else byId.set(groupIds[i], [i]);
  }
  return [...byId.values()];
}

function allEqual(rewards: ArrayLike<number>, members: number[]): boolean {
  const first = rewards[members[0]];
  for (const i of members) if (rewards[i] !== first) return false;
  return true;
}

function groupMean(rewards: ArrayLike<number>, members: number[]): number {
  let sum = 0;
  for (const i of members) sum += rewards[i];
  return sum / members.length;
}

/** Unbiased standard deviation (divisor n − 1), as torch.std. */
function groupStd(rewards: ArrayLike<number>, members: number[], mean: number): number {
  let ss = 0;
  for (const i of members) ss += (rewards[i] - mean) ** 2;
  return Math.sqrt(ss / (members.length - 1));
}

/**
 * GRPO (Shao et al. 2024, DeepSeekMath §4.1.2, outcome supervision): A_i = (r_i − mean_g)/(std_g + ε)
 * within the prompt's group g; verl `compute_grpo_outcome_advantage`.
 */
export function grpoAdvantage(
  rewards: ArrayLike<number>,
  groupIds: ArrayLike<number>,
  epsilon: number = GRPO_EPSILON,
): Float64Array {
  checkRewards('grpoAdvantage', rewards, groupIds);
  const out = new Float64Array(rewards.length);
  for (const members of groupMembers(groupIds)) {
    if (members.length === 1) {
      out[members[0]] = rewards[members[0]] / (1 + epsilon);
      continue;
    }
    if (allEqual(rewards, members)) continue;
    const mean = groupMean(rewards, members);
    const std = groupStd(rewards, members, mean);
    for (const i of members) out[i] = (rewards[i] - mean) / (std + epsilon);
  }
  return out;
}

/**
 * Dr. GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training", eq. 3): A_i = r_i − mean_g, no
 * division by the std (which up-weights too-easy and too-hard prompts); verl with
 * norm_adv_by_std_in_grpo=False.
 */
export function drGrpoAdvantage(rewards: ArrayLike<number>, groupIds: ArrayLike<number>): Float64Array {
  checkRewards('drGrpoAdvantage', rewards, groupIds);
  const out = new Float64Array(rewards.length);
  for (const members of groupMembers(groupIds)) {
    if (members.length === 1) {
      out[members[0]] = rewards[members[0]];
      continue;
    }
    if (allEqual(rewards, members)) continue;
    const mean = groupMean(rewards, members);
    for (const i of members) out[i] = rewards[i] - mean;
  }
  return out;
}

/**
 * RLOO (Kool et al. 2019; Ahmadian et al. 2024, eq. 5): A_i = r_i − (1/(n−1))·Σ_{j≠i} r_j, the mean of
 * the other responses to the same prompt; verl `compute_rloo_outcome_advantage`.
 */
export function rlooAdvantage(rewards: ArrayLike<number>, groupIds: ArrayLike<number>): Float64Array {
  checkRewards('rlooAdvantage', rewards, groupIds);
  const out = new Float64Array(rewards.length);
  for (const members of groupMembers(groupIds)) {
    const n = members.length;
    if (n === 1) {
      out[members[0]] = rewards[members[0]];
      continue;
    }
    if (allEqual(rewards, members)) continue;
    let sum = 0;
    for (const i of members) sum += rewards[i];
    for (const i of members) out[i] = rewards[i] - (sum - rewards[i]) / (n - 1);
  }
  return out;
}

/**
 * Whitening over the whole batch (exported for the per-token returns of returnToGo.ts, which whiten with
 * a 0/1 mask as weights): (x − mean)/√(var + ε) with token-count weights and the unbiased
 * variance over all weighted tokens (verl masked_whiten over the response tokens, where each response's
 * outcome return repeats on its tokens). Equal values, or a single token, give exactly 0.
 */
export function whiten(values: ArrayLike<number>, weights: ArrayLike<number> | undefined): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  let total = 0;
  let weighted = 0;
  let first: number | undefined;
  let varies = false;
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i] : 1;
    if (w === 0) continue;
    if (first === undefined) first = values[i];
    else if (values[i] !== first) varies = true;
    total += w;
    weighted += w * values[i];
  }
  if (!varies || total <= 1) return out;
  const mean = weighted / total;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (weights ? weights[i] : 1) * (values[i] - mean) ** 2;
  const variance = (ss / total) * (total / (total - 1));
  const scale = 1 / Math.sqrt(variance + WHITEN_EPSILON);
  for (let i = 0; i < n; i++) if ((weights ? weights[i] : 1) !== 0) out[i] = (values[i] - mean) * scale;
  return out;
}

function checkTokenCounts(fn: string, rewards: ArrayLike<number>, tokenCounts?: ArrayLike<number>): void {
  if (!tokenCounts) return;
  if (tokenCounts.length !== rewards.length) {
    throw new RangeError(
      `${fn}: tokenCounts has ${tokenCounts.length} entries, rewards has ${rewards.length}`,
    );
  }
  for (let i = 0; i < tokenCounts.length; i++) {
    if (!Number.isInteger(tokenCounts[i]) || tokenCounts[i] < 0) {
      throw new RangeError(`${fn}: tokenCounts[${i}] must be an integer ≥ 0 (got ${tokenCounts[i]})`);
    }
  }
}

/**
 * REINFORCE++ (Hu 2025, arXiv:2501.03262, §3): no per-prompt baseline; the outcome return normalised
 * over the whole batch, A = (r − mean_batch)/√(var_batch + ε). With `tokenCounts` (loss tokens per
 * response) the statistics are over tokens, exactly verl's `compute_reinforce_plus_plus_outcome_advantage`
 * with γ = 1 and no reward on other tokens; without, over responses.
 */
export function reinforcePlusPlusAdvantage(
  rewards: ArrayLike<number>,
  tokenCounts?: ArrayLike<number>,
): Float64Array {
  checkRewards('reinforcePlusPlusAdvantage', rewards);
  checkTokenCounts('reinforcePlusPlusAdvantage', rewards, tokenCounts);
  return whiten(rewards, tokenCounts);
}

/**
 * REINFORCE++-baseline (Hu 2025, §3.2): subtract the prompt's group mean, then whiten over the batch;
 * verl `compute_reinforce_plus_plus_baseline_outcome_advantage` (token weights as above).
 */
export function reinforcePlusPlusBaselineAdvantage(
  rewards: ArrayLike<number>,
  groupIds: ArrayLike<number>,
  tokenCounts?: ArrayLike<number>,
): Float64Array {
  checkTokenCounts('reinforcePlusPlusBaselineAdvantage', rewards, tokenCounts);
  return whiten(drGrpoAdvantage(rewards, groupIds), tokenCounts);
}

/** State of the running-mean baseline, carried from one RL step to the next (e.g. in a checkpoint). */
export interface RunningBaseline {
  /** Current baseline b. */
  value: number;
  /** Rewards folded into b so far (0 = fresh: b is 0). */
  count: number;
}

export const FRESH_BASELINE: RunningBaseline = { value: 0, count: 0 };

/**
 * REINFORCE with a running-mean baseline (Williams 1992, §4; the baseline is any function independent of
 * the action): A_i = r_i − b, where b is the mean of all rewards of *earlier* batches (so it never includes
 * r_i and the gradient stays unbiased). Then b absorbs this batch: the cumulative mean, or with `decay`
 * d ∈ [0, 1) an exponential moving average b ← d·b + (1 − d)·mean(batch) (the first batch sets b to its
 * mean). Pure: the new state is returned, the old one untouched.
 */
export function reinforceBaselineAdvantage(
  rewards: ArrayLike<number>,
  state: RunningBaseline = FRESH_BASELINE,
  decay?: number,
): { advantages: Float64Array; baseline: RunningBaseline } {
  checkRewards('reinforceBaselineAdvantage', rewards);
  if (decay !== undefined && !(decay >= 0 && decay < 1)) {
    throw new RangeError(`reinforceBaselineAdvantage: decay must be in [0, 1) (got ${decay})`);
  }
  if (!Number.isInteger(state.count) || state.count < 0 || !Number.isFinite(state.value)) {
    throw new RangeError(
      `reinforceBaselineAdvantage: bad baseline state (value ${state.value}, count ${state.count})`,
    );
  }
  const n = rewards.length;
  const advantages = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    advantages[i] = rewards[i] - state.value;
    sum += rewards[i];
  }
  if (n === 0) return { advantages, baseline: { ...state } };
  const batchMean = sum / n;
  let value: number;
  if (state.count === 0) value = batchMean;
  else if (decay === undefined) value = (state.value * state.count + sum) / (state.count + n);
  else value = decay * state.value + (1 - decay) * batchMean;
  return { advantages, baseline: { value, count: state.count + n } };
}

/** What every registered estimator receives; each uses the fields it needs. */
export interface AdvantageInput {
  /** One outcome reward per response. */
  rewards: ArrayLike<number>;
  /** The prompt (group) of each response. */
  groupIds: ArrayLike<number>;
  /** Loss tokens per response: REINFORCE++ whitens over tokens when given. */
  tokenCounts?: ArrayLike<number>;
  /** GRPO's ε. */
  epsilon?: number;
  /** Running-baseline state and EMA decay (reinforceBaseline only). */
  baseline?: RunningBaseline;
  baselineDecay?: number;
}

export interface AdvantageOutput {
  advantages: Float64Array;
  /** The updated running baseline (reinforceBaseline only). */
  baseline?: RunningBaseline;
}

/** Names of the advantage estimators; the run config's enum is exactly this list. */
export const ADVANTAGE_ESTIMATOR_NAMES = [
  'grpo',
  'drGrpo',
  'rloo',
  'reinforcePlusPlus',
  'reinforcePlusPlusBaseline',
  'reinforceBaseline',
] as const;
export type AdvantageEstimatorName = (typeof ADVANTAGE_ESTIMATOR_NAMES)[number];

/** The registry a config string selects from (verl's ADV_ESTIMATOR_REGISTRY). */
export const advantageEstimators: Record<AdvantageEstimatorName, (input: AdvantageInput) => AdvantageOutput> =
  {
    grpo: (x) => ({ advantages: grpoAdvantage(x.rewards, x.groupIds, x.epsilon) }),
    drGrpo: (x) => ({ advantages: drGrpoAdvantage(x.rewards, x.groupIds) }),
    rloo: (x) => ({ advantages: rlooAdvantage(x.rewards, x.groupIds) }),
    reinforcePlusPlus: (x) => ({ advantages: reinforcePlusPlusAdvantage(x.rewards, x.tokenCounts) }),
    reinforcePlusPlusBaseline: (x) => ({
      advantages: reinforcePlusPlusBaselineAdvantage(x.rewards, x.groupIds, x.tokenCounts),
    }),
    reinforceBaseline: (x) => reinforceBaselineAdvantage(x.rewards, x.baseline, x.baselineDecay),
  };
