"""Scored rollout rows (the JSON scoreRollouts writes, core/train/rolloutBatch.ts `RolloutRow`) packed into
right-padded tensors, response token k of a row scored at position P + k − 1, as the ONNX trainer packs them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

Row = dict[str, Any]


def check_row(row: Row, index: int) -> None:
    """Throws, naming the row and field, when a row cannot be packed."""
    n = len(row["responseIds"])
    for name in ("oldLogprobs", "sampled", "advantages", "refLogprobs"):
        arr = row.get(name)
        if arr is not None and len(arr) != n:
            raise ValueError(f"rollout row {index}: {name} has {len(arr)} entries, responseIds has {n}")
    if len(row["promptIds"]) == 0:
        raise ValueError(f"rollout row {index}: empty prompt")


def loss_token_count(row: Row) -> int:
    """Loss tokens of a row: the response tokens the policy sampled."""
    return sum(1 for s in row["sampled"] if s)


@dataclass
class PackedRows:
    input_ids: torch.Tensor  # [B, S] int64
    attention_mask: torch.Tensor  # [B, S] int64
    position_ids: torch.Tensor  # [B, S] int64
    old_logprobs: torch.Tensor  # [B, S − 1]
    advantages: torch.Tensor
    loss_mask: torch.Tensor
    ref_logprobs: torch.Tensor | None


def pack_rows(rows: Sequence[Row], dtype: torch.dtype, with_ref: bool, pad_id: int = 0) -> PackedRows:
    if not rows:
        raise ValueError("pack_rows: no rows")
    for i, row in enumerate(rows):
        check_row(row, i)
    if with_ref and any(row.get("refLogprobs") is None for row in rows):
        raise ValueError("pack_rows: KL loss needs refLogprobs on every row")
    b = len(rows)
    s = max(len(r["promptIds"]) + len(r["responseIds"]) for r in rows)
    ids = torch.full((b, s), pad_id, dtype=torch.int64)
    attention = torch.zeros((b, s), dtype=torch.int64)
    positions = torch.zeros((b, s), dtype=torch.int64)
    old = torch.zeros((b, s - 1), dtype=dtype)
    adv = torch.zeros((b, s - 1), dtype=dtype)
    mask = torch.zeros((b, s - 1), dtype=dtype)
    ref = torch.zeros((b, s - 1), dtype=dtype) if with_ref else None
    for i, row in enumerate(rows):
        tokens = list(row["promptIds"]) + list(row["responseIds"])
        n, p, k = len(tokens), len(row["promptIds"]), len(row["responseIds"])
        ids[i, :n] = torch.tensor(tokens, dtype=torch.int64)
        attention[i, :n] = 1
        positions[i, :n] = torch.arange(n)
        at = slice(p - 1, p - 1 + k)
        old[i, at] = torch.tensor(row["oldLogprobs"], dtype=dtype)
        adv[i, at] = torch.tensor(row["advantages"], dtype=dtype)
        mask[i, at] = torch.tensor([1.0 if x else 0.0 for x in row["sampled"]], dtype=dtype)
        if ref is not None:
            ref[i, at] = torch.tensor(row["refLogprobs"], dtype=dtype)
    return PackedRows(ids, attention, positions, old, adv, mask, ref)
