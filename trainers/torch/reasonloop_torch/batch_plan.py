"""How one rollout batch becomes optimizer steps (core/rl/batchPlan.ts): epochs × mini-batches ×
micro-batches, rows shuffled per epoch by the run seed and RL step, the same order as the ONNX trainer."""

from __future__ import annotations

from dataclasses import dataclass

from .philox import STREAM_SHUFFLE, uniform_at


@dataclass(frozen=True)
class MicroBatch:
    epoch: int
    mini_batch: int
    micro_batch: int
    rows: tuple[int, ...]


def shuffled_rows(n: int, seed: int, step: int, epoch: int) -> list[int]:
    """Fisher–Yates permutation of 0..n−1 from the shuffle stream at (seed, step, epoch)."""
    rows = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(uniform_at(seed, step, epoch, 0, i, STREAM_SHUFFLE) * (i + 1))
        rows[i], rows[j] = rows[j], rows[i]
    return rows


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"update plan: {name} must be a positive integer (got {value})")


def plan_update(batch_size: int, mini_batch_size: int, micro_batch_size: int, epochs: int,
                seed: int, step: int, shuffle: bool = True) -> list[MicroBatch]:
    """The micro-batches of one rollout batch in execution order."""
    for name, value in (("batchSize", batch_size), ("miniBatchSize", mini_batch_size),
                        ("microBatchSize", micro_batch_size), ("epochs", epochs)):
        _positive(name, value)
    if mini_batch_size > batch_size or batch_size % mini_batch_size:
        raise ValueError(f"update plan: miniBatchSize ({mini_batch_size}) must divide batchSize ({batch_size})")
    if micro_batch_size > mini_batch_size or mini_batch_size % micro_batch_size:
        raise ValueError(
            f"update plan: microBatchSize ({micro_batch_size}) must divide miniBatchSize ({mini_batch_size})")
    out: list[MicroBatch] = []
    for epoch in range(epochs):
        order = shuffled_rows(batch_size, seed, step, epoch) if shuffle else list(range(batch_size))
        for mini in range(batch_size // mini_batch_size):
            for micro in range(mini_batch_size // micro_batch_size):
                start = mini * mini_batch_size + micro * micro_batch_size
                out.append(MicroBatch(epoch, mini, micro, tuple(order[start:start + micro_batch_size])))
    return out


def mini_batches(plan: list[MicroBatch]) -> list[list[MicroBatch]]:
    """The plan grouped by (epoch, mini-batch): one optimizer step each."""
    groups: list[list[MicroBatch]] = []
    for m in plan:
        if groups and (groups[-1][0].epoch, groups[-1][0].mini_batch) == (m.epoch, m.mini_batch):
            groups[-1].append(m)
        else:
            groups.append([m])
    return groups
