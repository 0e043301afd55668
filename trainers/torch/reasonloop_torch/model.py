"""The policy: a transformers Qwen2ForCausalLM read from an HF model directory (config.json + safetensors,
as core/model writes them), and the per-token log-probs and entropies the loss needs."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from .sharded_safetensors import ShardedTensors


def build_qwen2(config_path: Path, dtype: torch.dtype, device: torch.device | str = "cpu") -> Qwen2ForCausalLM:
    """A Qwen2 module of the architecture in config.json, weights uninitialised garbage until loaded."""
    config = Qwen2Config.from_json_file(str(config_path))
    # SDPA computes the softmax in the inputs' dtype; the eager path rounds it to float32 first.
    config._attn_implementation = "sdpa"
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(dtype)
    _rope_in_model_dtype(model, config)
    _norms_in_model_dtype(model)
    return model


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half-precision models (as transformers does), the model's own dtype otherwise."""
    return torch.promote_types(dtype, torch.float32)


def _norms_in_model_dtype(model: torch.nn.Module) -> None:
    """RMSNorm in the model's dtype (at least float32): transformers rounds it to float32 always."""
    for module in model.modules():
        if type(module).__name__ != "Qwen2RMSNorm":
            continue

        def forward(x: torch.Tensor, norm: torch.nn.Module = module) -> torch.Tensor:
            h = x.to(_compute_dtype(x.dtype))
            variance = h.pow(2).mean(-1, keepdim=True)
            h = h * torch.rsqrt(variance + norm.variance_epsilon)
            return norm.weight * h.to(x.dtype)

        module.forward = forward  # type: ignore[method-assign]


def _rope_in_model_dtype(model: Qwen2ForCausalLM, config: Qwen2Config) -> None:
    """RoPE angles in the model's dtype from float64 inverse frequencies, as core/model/qwen2.ts computes
    them. transformers computes them in float32 whatever the model's dtype, which would hold a float64
    model to float32 accuracy (and the float64 parity test to ~1e-7)."""
    rotary = model.model.rotary_emb
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    theta = float(config.rope_parameters["rope_theta"]) if getattr(config, "rope_parameters", None) else float(
        config.rope_theta)
    half = head_dim // 2
    inv_freq = torch.tensor([1 / theta ** ((2 * i) / head_dim) for i in range(half)], dtype=torch.float64)

    def forward(x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = _compute_dtype(x.dtype)
        freqs = position_ids[..., None].to(dtype) * inv_freq.to(device=x.device, dtype=dtype)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)

    rotary.forward = forward  # type: ignore[method-assign]


def read_weights(model_dir: Path) -> Mapping[str, torch.Tensor]:
    """The tensors of model.safetensors, or of the shards model.safetensors.index.json names (checked
    against the index), each read as float32 when asked for."""
    return ShardedTensors(model_dir, "model")


def load_weights(model: Qwen2ForCausalLM, weights: Mapping[str, torch.Tensor]) -> None:
    """Copies HF-named tensors into the module, refusing missing or extra names (a tied lm_head is absent)."""
    expected = set(trained_names(model))
    got = set(weights)
    if expected != got:
        missing, extra = sorted(expected - got), sorted(got - expected)
        raise ValueError(f"weights do not match the model: missing {missing[:5]}, unexpected {extra[:5]}")
    with torch.no_grad():
        params = dict(model.named_parameters())
        for name in expected:
            params[name].copy_(weights[name].to(params[name].dtype))


def trained_names(model: Qwen2ForCausalLM) -> list[str]:
    """Parameter names as HF saves them (named_parameters already drops the tied lm_head)."""
    return [name for name, _ in model.named_parameters()]


def token_logprobs(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   position_ids: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """log softmax(logits/T) of token t+1 at position t, and the entropy there: [B, S − 1] each."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                   use_cache=False).logits[:, :-1, :]
    # Under bf16 mixed precision the logits come in bfloat16: the softmax is taken in float32 at least.
    logits = logits.to(_compute_dtype(logits.dtype))
    logp = torch.log_softmax(logits / temperature, dim=-1)
    chosen = logp.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    entropy = -(torch.exp(logp) * logp).sum(-1)
    return chosen, entropy
