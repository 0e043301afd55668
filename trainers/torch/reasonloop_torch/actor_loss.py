"""The actor's loss over [batch, tokens] tensors, term for term as core/rl/lossGraph.ts builds it (and as
verl's core_algos computes it): PPO-clip with clip-higher and dual-clip, the k1/k2/k3 KL to the
reference, the entropy bonus, verl's four loss aggregations with the normaliser of the whole mini-batch
(so micro-batch gradients add up exactly), and the token sums the step's metrics are made of."""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: verl clamps log π_θ − log π_old to ±20 before exp.
LOG_RATIO_CLAMP = 20.0
#: verl's k3 clamps: the log-ratio to ±20, the value to [−10, 10].
K3_LOG_RATIO_CLAMP = 20.0
K3_VALUE_CLAMP = 10.0

LOSS_AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm")
KL_ESTIMATORS = ("k1", "k2", "k3")


@dataclass(frozen=True)
class ClipParams:
    low: float
    high: float
    dual_clip: float | None = None


@dataclass(frozen=True)
class PpoClipTokens:
    loss: torch.Tensor
    clipped_high: torch.Tensor
    clipped_low: torch.Tensor
    dual_clipped: torch.Tensor
    log_ratio: torch.Tensor
    ratio: torch.Tensor


def ppo_clip_tokens(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                    clip: ClipParams) -> PpoClipTokens:
    """Per-token PPO-clip loss max(−A·r, −A·clip(r, 1−ε_low, 1+ε_high)), dual-clipped at −A·c when A < 0."""
    log_ratio = torch.clamp(logprobs - old_logprobs, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    ratio = torch.exp(log_ratio)
    neg_a = -advantages
    unclipped = neg_a * ratio
    clipped = neg_a * torch.clamp(ratio, 1 - clip.low, 1 + clip.high)
    ppo = torch.maximum(unclipped, clipped)
    branch = (clipped > unclipped).to(ppo.dtype)
    loss = ppo
    dual = torch.zeros_like(ppo)
    if clip.dual_clip is not None:
        floor = neg_a * clip.dual_clip
        applies = (advantages < 0) & (ppo > floor)
        loss = torch.where(applies, floor, ppo)
        dual = applies.to(ppo.dtype)
    return PpoClipTokens(loss, branch * (advantages > 0).to(ppo.dtype), branch * (advantages < 0).to(ppo.dtype),
                         dual, log_ratio, ratio)


def kl_tokens(estimator: str, logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token estimate of KL(π ‖ π_ref) (Schulman 2020; verl kl_penalty)."""
    x = logprobs - ref_logprobs
    if estimator == "k1":
        return x
    if estimator == "k2":
        return x * x * 0.5
    if estimator == "k3":
        log_ratio = torch.clamp(-x, -K3_LOG_RATIO_CLAMP, K3_LOG_RATIO_CLAMP)
        return torch.clamp(torch.exp(log_ratio) - log_ratio - 1, -K3_VALUE_CLAMP, K3_VALUE_CLAMP)
    raise ValueError(f'unknown KL estimator "{estimator}" (one of {", ".join(KL_ESTIMATORS)})')


def aggregate(values: torch.Tensor, mask: torch.Tensor, mode: str, norm: float) -> torch.Tensor:
    """Σ over the micro-batch of `values` aggregated by `mode`, times the mini-batch's normaliser."""
    masked = values * mask
    if mode == "seq-mean-token-mean":
        row_counts = torch.clamp(mask.sum(dim=1), min=1)
        return (masked.sum(dim=1) / row_counts).sum() * norm
    if mode not in LOSS_AGG_MODES:
        raise ValueError(f'unknown loss aggregation "{mode}" (one of {", ".join(LOSS_AGG_MODES)})')
    return masked.sum() * norm


def loss_normalizer(token_counts: list[int], mode: str, max_length: int | None = None) -> float:
    """core/rl/lossGraph.ts lossNormalizer: 1/Σtokens, 1/S', or 1/(S'·maxLength); 0 when nothing trains."""
    if mode == "token-mean":
        tokens = sum(token_counts)
        return 0.0 if tokens == 0 else 1 / tokens
    sequences = sum(1 for c in token_counts if c > 0)
    if sequences == 0:
        return 0.0
    if mode == "seq-mean-token-sum-norm":
        if not isinstance(max_length, int) or max_length <= 0:
            raise ValueError(f"loss_normalizer: mode {mode} needs maxLength, a positive integer (got {max_length})")
        return 1 / (sequences * max_length)
    return 1 / sequences


@dataclass(frozen=True)
class ActorLossSpec:
    clip: ClipParams
    agg_mode: str
    #: KL to the reference as a loss term (kl.placement = "loss"); None otherwise.
    kl_estimator: str | None
    entropy_coef: float


def actor_loss(logprobs: torch.Tensor, entropy: torch.Tensor, old_logprobs: torch.Tensor,
               advantages: torch.Tensor, mask: torch.Tensor, ref_logprobs: torch.Tensor | None,
               spec: ActorLossSpec, norm: float, kl_coef: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """pg − c_H·H + β·KL of one micro-batch, and its metric sums (policyLossGraph.ts `actorLossOnTokens`)."""
    ppo = ppo_clip_tokens(logprobs, old_logprobs, advantages, spec.clip)
    pg = aggregate(ppo.loss, mask, spec.agg_mode, norm)
    entropy_agg = aggregate(entropy, mask, spec.agg_mode, norm)
    loss = pg
    if spec.entropy_coef != 0:
        loss = loss - spec.entropy_coef * entropy_agg
    kl = torch.zeros((), dtype=pg.dtype, device=pg.device)
    if spec.kl_estimator is not None:
        if ref_logprobs is None:
            raise ValueError("actor_loss: the KL loss needs refLogprobs")
        kl = aggregate(kl_tokens(spec.kl_estimator, logprobs, ref_logprobs), mask, spec.agg_mode, norm)
        loss = loss + kl_coef * kl

    def masked(v: torch.Tensor) -> torch.Tensor:
        return (v * mask).sum()

    with torch.no_grad():
        metrics = {
            "pg_loss": pg.detach(),
            "entropy": entropy_agg.detach(),
            "kl_loss": kl.detach(),
            "tokens": mask.sum(),
            "clip_high_sum": masked(ppo.clipped_high),
            "clip_low_sum": masked(ppo.clipped_low),
            "dual_clip_sum": masked(ppo.dual_clipped),
            "approx_kl_sum": masked(-ppo.log_ratio.detach()),
            "approx_kl_k3_sum": masked(ppo.ratio.detach() - ppo.log_ratio.detach() - 1),
        }
    return loss, metrics
