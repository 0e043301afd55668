/**
 * A rollout batch as the trainer sees it — prompt, response, the sampler's log-probs, which tokens were
 * sampled (tool output is not), per-token advantages — and its packing into the right-padded tensors of
 * the policy-loss graph, where response token k of a row is scored at position P + k − 1.
 */
import type { Feeds } from '../graph/index.ts';
import { lossInputs } from './policyLossGraph.ts';

export interface RolloutRow {
  promptIds: readonly number[];
  responseIds: readonly number[];
  /** log π_old of each response token at the rollout temperature (generation's `logprobs`). */
  oldLogprobs: readonly number[];
  /** false for tokens the policy did not sample (tool output): they never enter the loss. */
  sampled: readonly boolean[];
  /** Advantage of each response token (an outcome advantage repeated, or shaped returns). */
  advantages: readonly number[];
  /** log π_ref of each response token (KL as a loss). */
  refLogprobs?: readonly number[];
}

export function checkRow(row: RolloutRow, index: number): void {
  const n = row.responseIds.length;
  const fields = {
    oldLogprobs: row.oldLogprobs,
    sampled: row.sampled,
    advantages: row.advantages,
    refLogprobs: row.refLogprobs,
  };
  for (const [name, arr] of Object.entries(fields))
    if (arr && arr.length !== n)
      throw new RangeError(`rollout row ${index}: ${name} has ${arr.length} entries, responseIds has ${n}`);
  if (row.promptIds.length === 0) throw new RangeError(`rollout row ${index}: empty prompt`);
}

/** Loss tokens of a row: sampled response tokens. */
export function lossTokenCount(row: RolloutRow): number {
  return row.sampled.reduce((n, s) => n + (s ? 1 : 0), 0);
}

/** The token inputs of the model and the loss for a set of rows (right padding with `padId`). */
export function packRows(
  rows: readonly RolloutRow[],
  opts: { padId?: number; withRef?: boolean } = {},
): Feeds {
  rows.forEach(checkRow);
  const feeds = packSequences(rows, opts.padId);
  const B = rows.length;
  const S = feeds.input_ids.dims[1];
  const L = S - 1;
  const old = new Float32Array(B * L);
  const adv = new Float32Array(B * L);
  const mask = new Float32Array(B * L);
  const ref = new Float32Array(B * L);
  rows.forEach((row, b) => {
    const P = row.promptIds.length;
    row.responseIds.forEach((_, k) => {
      const at = b * L + P + k - 1;
      old[at] = row.oldLogprobs[k];
      adv[at] = row.advantages[k];
      mask[at] = row.sampled[k] ? 1 : 0;
      if (row.refLogprobs) ref[at] = row.refLogprobs[k];
    });
  });
  Object.assign(feeds, {
    [lossInputs.oldLogprobs]: { data: old, dims: [B, L] },
    [lossInputs.advantages]: { data: adv, dims: [B, L] },
    [lossInputs.lossMask]: { data: mask, dims: [B, L] },
  });
  if (opts.withRef) {
    if (rows.some((r) => !r.refLogprobs))
      throw new RangeError('packRows: KL loss needs refLogprobs on every row');
    feeds[lossInputs.refLogprobs] = { data: ref, dims: [B, L] };
  }
  return feeds;
}

/** Prompt + response of each row, right-padded: input_ids, attention_mask, position_ids [rows, S]. */
export function packSequences(
  rows: readonly { promptIds: readonly number[]; responseIds: readonly number[] }[],
  padId = 0,
): Feeds {
  const B = rows.length;
  if (B === 0) throw new RangeError('packSequences: no rows');
  const S = Math.max(...rows.map((r) => r.promptIds.length + r.responseIds.length));
  const ids = new BigInt64Array(B * S).fill(BigInt(padId));
  const attention = new BigInt64Array(B * S);
  const positions = new BigInt64Array(B * S);
  rows.forEach((row, b) => {
    [...row.promptIds, ...row.responseIds].forEach((tok, t) => {
      ids[b * S + t] = BigInt(tok);
      attention[b * S + t] = 1n;
      positions[b * S + t] = BigInt(t);
    });
  });
  return {
    input_ids: { data: ids, dims: [B, S] },
    attention_mask: { data: attention, dims: [B, S] },
    position_ids: { data: positions, dims: [B, S] },
  };
}
