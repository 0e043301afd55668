/**
 * A rollout batch as the PyTorch update benches read it (scripts/python/bench_update_torch.py,
 * bench_scale_torch.py): the packed rows as JSON arrays and the PPO-clip/AdamW settings both benches use.
 */
import type { HostTensor } from '../core/graph/index.ts';
import { packRows, type RolloutRow } from '../core/train/rolloutBatch.ts';

export function torchBatch(rows: readonly RolloutRow[], lr: number) {
  const packed = packRows(rows);
  const S = packed.input_ids.dims[1];
  const toRows = (t: HostTensor, width: number) =>
    Array.from({ length: rows.length }, (_, b) =>
      Array.from(t.data.subarray(b * width, (b + 1) * width) as ArrayLike<number | bigint>, Number),
    );
  return {
    input_ids: toRows(packed.input_ids, S),
    attention_mask: toRows(packed.attention_mask, S),
    loss_mask: toRows(packed.loss_mask, S - 1),
    old_logprobs: toRows(packed.old_logprobs, S - 1),
    advantages: toRows(packed.advantages, S - 1),
    clip_low: 0.2,
    clip_high: 0.2,
    lr,
    weight_decay: 0.01,
    max_grad_norm: 1.0,
  };
}
