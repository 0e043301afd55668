"""The actor update of one RL step (core/train/policyUpdate.ts `PolicyUpdater.update`) in PyTorch: the
rollout batch cut into mini-batches (one AdamW step each) and micro-batches (gradient accumulation) by
the same seeded plan, each mini-batch's loss normalised over the whole mini-batch, global-norm clipping,
AdamW, and verl's metrics per optimizer step.

Under FSDP2 the micro-batches of a mini-batch are dealt to the ranks in turn and the gradients summed
(not averaged) across ranks, so the step equals the single-process one. A rank with no micro-batch left
in a round still runs the forward and backward of one (its loss times 0): every rank must join each
layer's all-gather.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.distributed as dist

from .actor_loss import ActorLossSpec, ClipParams, actor_loss, loss_normalizer
from .batch_plan import mini_batches, plan_update
from .model import token_logprobs
from .rollout_batch import PackedRows, loss_token_count, pack_rows

#: The order of the metric sums all-reduced across ranks.
SUM_NAMES = ("loss", "pg_loss", "entropy", "kl_loss", "tokens", "clip_high_sum", "clip_low_sum",
             "dual_clip_sum", "approx_kl_sum", "approx_kl_k3_sum")


@dataclass(frozen=True)
class UpdateSettings:
    """The trainer's part of run.algorithm (core/config/rl.ts), defaults already applied."""
    loss: ActorLossSpec
    epochs: int
    mini_batch_size: int
    micro_batch_size: int
    shuffle: bool
    #: Global gradient-norm clip; None: not clipped (the norm is still reported).
    max_grad_norm: float | None
    loss_agg_max_length: int | None = None

    @staticmethod
    def from_algorithm(algo: dict[str, Any]) -> "UpdateSettings":
        """From the run config's `algorithm` object as parsed by the TypeScript side (defaults filled)."""
        clip = algo["clip"]
        kl = algo["kl"]
        return UpdateSettings(
            loss=ActorLossSpec(
                clip=ClipParams(clip["low"], clip["high"], clip.get("dualClip")),
                agg_mode=algo["lossAgg"],
                kl_estimator=kl["estimator"] if kl["placement"] == "loss" else None,
                entropy_coef=algo["entropyCoef"],
            ),
            epochs=algo["epochs"],
            mini_batch_size=algo["miniBatchSize"],
            micro_batch_size=algo["microBatchSize"],
            shuffle=algo.get("shuffle", True),
            max_grad_norm=algo["optimizer"]["maxGradNorm"],
            loss_agg_max_length=algo.get("lossAggMaxLength"),
        )


@dataclass(frozen=True)
class UpdateContext:
    seed: int
    step: int
    temperature: float
    lr: float
    kl_coef: float
    max_length: int | None = None


def make_optimizer(model: torch.nn.Module, optimizer: dict[str, Any]) -> torch.optim.AdamW:
    """AdamW over the trained parameters (all, or a LoRA run's adapters) as the run config spells it;
    every one decays (the ONNX trainer exempts none)."""
    beta1, beta2 = optimizer["betas"]
    trained = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(trained, lr=optimizer["lr"], betas=(beta1, beta2), eps=optimizer["eps"],
                             weight_decay=optimizer["weightDecay"], foreach=False)


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _full(t: torch.Tensor) -> torch.Tensor:
    """A DTensor's full value (a collective under FSDP2); a plain tensor as it is."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def clip_and_norm(model: torch.nn.Module, max_grad_norm: float | None) -> float:
    """Global L2 norm of all gradients before clipping; scales them to max_grad_norm when above it
    (torch.nn.utils.clip_grad_norm_, the norm + 1e-6 rule core/graph/adamw.ts mirrors)."""
    params = [p for p in model.parameters() if p.grad is not None]
    limit = math.inf if max_grad_norm is None else max_grad_norm
    norm = torch.nn.utils.clip_grad_norm_(params, limit, foreach=False)
    return float(_full(norm).item())


def on_device(packed: PackedRows, device: torch.device) -> PackedRows:
    """The packed rows where the model's (local shards of) parameters are: the CPU, or this rank's GPU."""
    if device.type == "cpu":
        return packed
    return PackedRows(**{k: None if v is None else v.to(device) for k, v in vars(packed).items()})


def update(model: torch.nn.Module, optimizer: torch.optim.Optimizer, rows: Sequence[dict[str, Any]],
           settings: UpdateSettings, ctx: UpdateContext, dtype: torch.dtype) -> list[dict[str, float]]:
    """Every optimizer step of one rollout batch; one metrics record per step (core/train UpdateMetrics)."""
    rank, world = _rank_world()
    device = next(model.parameters()).device
    n = len(rows)
    plan = plan_update(n, min(settings.mini_batch_size, n), min(settings.micro_batch_size, n), settings.epochs,
                       ctx.seed, ctx.step, settings.shuffle)
    max_length = settings.loss_agg_max_length or ctx.max_length
    with_ref = settings.loss.kl_estimator is not None
    records: list[dict[str, float]] = []
    model.train()
    for group in mini_batches(plan):
        counts = [loss_token_count(rows[r]) for m in group for r in m.rows]
        norm = loss_normalizer(counts, settings.loss.agg_mode, max_length)
        mine = group[rank::world]
        rounds = math.ceil(len(group) / world)
        optimizer.zero_grad(set_to_none=True)
        sums = torch.zeros(len(SUM_NAMES), dtype=torch.float64, device=device)
        for k in range(rounds):
            micro, weight = (mine[k], 1.0) if k < len(mine) else (group[0], 0.0)
            packed = on_device(pack_rows([rows[r] for r in micro.rows], dtype, with_ref), device)
            logp, entropy = token_logprobs(model, packed.input_ids, packed.attention_mask, packed.position_ids,
                                           ctx.temperature)
            loss, metrics = actor_loss(logp, entropy, packed.old_logprobs, packed.advantages, packed.loss_mask,
                                       packed.ref_logprobs, settings.loss, norm, ctx.kl_coef)
            (loss * weight).backward()
            values = {"loss": loss.detach(), **metrics}
            sums += weight * torch.stack([values[name].to(torch.float64) for name in SUM_NAMES])
        if world > 1:
            dist.all_reduce(sums)
        for g in optimizer.param_groups:
            g["lr"] = ctx.lr
        grad_norm = clip_and_norm(model, settings.max_grad_norm)
        optimizer.step()
        s = dict(zip(SUM_NAMES, sums.tolist()))
        tokens = s["tokens"] or 1
        records.append({
            "loss": s["loss"], "pgLoss": s["pg_loss"],
            "clipFracHigh": s["clip_high_sum"] / tokens, "clipFracLow": s["clip_low_sum"] / tokens,
            "dualClipFrac": s["dual_clip_sum"] / tokens,
            "approxKl": s["approx_kl_sum"] / tokens, "approxKlK3": s["approx_kl_k3_sum"] / tokens,
            "klLoss": s["kl_loss"], "klCoef": ctx.kl_coef, "entropy": s["entropy"],
            "gradNorm": grad_norm, "lr": ctx.lr,
        })
    return records
