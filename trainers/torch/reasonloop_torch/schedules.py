"""The learning-rate and KL-coefficient schedules (core/rl/lrSchedule.ts, core/rl/klSchedule.ts), per RL
step (0-based), so the torch trainer uses the same lr and β as the ONNX trainer at every step."""

from __future__ import annotations

import math

LR_SCHEDULES = ("constant", "warmupConstant", "warmupCosine")
KL_COEF_SCHEDULES = ("constant", "cosine")


def warmup_factor(step: int, warmup_steps: int) -> float:
    return step / max(1, warmup_steps) if step < warmup_steps else 1.0


def cosine_factor(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    progress = min(1.0, max(0.0, (step - warmup_steps) / max(1, total_steps - warmup_steps)))
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def lr_at(step: int, schedule: str, lr: float, warmup_steps: int = 0, total_steps: int | None = None,
          min_lr_ratio: float = 0.0) -> float:
    """The learning rate at RL step `step` (HF's warm-up from 0; the cosine held at its floor past the end)."""
    if not isinstance(step, int) or step < 0:
        raise ValueError(f"lr_at: step must be an integer ≥ 0 (got {step})")
    if schedule == "constant":
        return lr
    if schedule == "warmupConstant":
        return lr * warmup_factor(step, warmup_steps)
    if schedule != "warmupCosine":
        raise ValueError(f'lr_at: unknown schedule "{schedule}" (one of {", ".join(LR_SCHEDULES)})')
    if total_steps is None or total_steps <= warmup_steps:
        raise ValueError(f"lr_at: warmupCosine needs totalSteps above warmupSteps ({warmup_steps}) (got {total_steps})")
    if step < warmup_steps:
        return lr * warmup_factor(step, warmup_steps)
    return lr * cosine_factor(step, warmup_steps, total_steps, min_lr_ratio)


def kl_coef_at(step: int, schedule: str, coef: float, anneal_steps: int) -> float:
    """β at RL step `step`: constant, or β·½(1 + cos(π·t/N)) for t < N, then 0."""
    if schedule == "constant":
        return coef
    if schedule != "cosine":
        raise ValueError(f'kl_coef_at: unknown schedule "{schedule}" (one of {", ".join(KL_COEF_SCHEDULES)})')
    if step >= anneal_steps:
        return 0.0
    return coef * 0.5 * (1 + math.cos(math.pi * step / anneal_steps))
