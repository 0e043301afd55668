"""LoRA on the Qwen2 linears as core/model/lora.ts and PEFT's LoraLayer compute it: a targeted nn.Linear
y = x·Wᵀ (+ b) gains s·B(A(x)) with A [r, in], B [out, r] and s = alpha / r (no rsLoRA, no dropout: the
run config refuses dropout above 0 for both engines). The adapters hang on the Linear as child modules
`lora_A` and `lora_B`, so their parameter names are the ones core/model/lora.ts uses
(`model.layers.0.self_attn.q_proj.lora_A.weight`); every other parameter is frozen (requires_grad False),
and only the adapters and their AdamW moments are trained and checkpointed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

#: The Linear modules of a Qwen2 decoder layer, in core/model/lora.ts LORA_TARGET_MODULES order.
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ALL_LINEAR = "all-linear"
_ATTENTION = {"q_proj", "k_proj", "v_proj", "o_proj"}


@dataclass(frozen=True)
class LoraSpec:
    rank: int
    alpha: float
    #: In TARGET_MODULES order.
    target_modules: tuple[str, ...]

    @property
    def scaling(self) -> float:
        """PEFT's `lora_alpha / r`."""
        return self.alpha / self.rank

    @staticmethod
    def from_config(lora: dict[str, Any]) -> "LoraSpec":
        """`algorithm.lora` of the raw run config, with core/config/lora.ts's defaults (alpha 16,
        all-linear); the TypeScript side has already refused what the schema does not allow."""
        targets = lora.get("targetModules", ALL_LINEAR)
        names = TARGET_MODULES if targets == ALL_LINEAR else tuple(m for m in TARGET_MODULES if m in targets)
        unknown = [] if targets == ALL_LINEAR else sorted(set(targets) - set(TARGET_MODULES))
        if unknown:
            raise ValueError(f"algorithm.lora.targetModules: {unknown} are not Qwen2 linears ({', '.join(TARGET_MODULES)})")
        return LoraSpec(rank=int(lora["rank"]), alpha=lora.get("alpha", 16), target_modules=names)


def module_path(layer: int, module: str) -> str:
    """`model.layers.{i}.self_attn.q_proj` / `model.layers.{i}.mlp.up_proj` (core/model/lora.ts loraModulePath)."""
    return f"model.layers.{layer}.{'self_attn' if module in _ATTENTION else 'mlp'}.{module}"


def adapter_names(num_layers: int, spec: LoraSpec) -> list[str]:
    """Every adapter tensor, A then B per module, layer by layer (core/model/lora.ts loraParameters)."""
    return [f"{module_path(i, m)}.lora_{ab}.weight" for i in range(num_layers) for m in spec.target_modules
            for ab in ("A", "B")]


def _adapted_forward(linear: torch.nn.Linear, scaling: float):
    def forward(x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, linear.weight, linear.bias) + linear.lora_B(linear.lora_A(x)) * scaling

    return forward


def add_lora(model: torch.nn.Module, spec: LoraSpec) -> None:
    """Hangs zero-initialised adapters on every targeted Linear (their values come from the checkpoint)
    and freezes everything else. Call before sharding: fully_shard takes the parameters as they are."""
    for p in model.parameters():
        p.requires_grad_(False)
    for i in range(len(model.model.layers)):  # type: ignore[attr-defined]
        for m in spec.target_modules:
            linear = model.get_submodule(module_path(i, m))
            dtype = linear.weight.dtype
            linear.lora_A = torch.nn.Linear(linear.in_features, spec.rank, bias=False, dtype=dtype)
            linear.lora_B = torch.nn.Linear(spec.rank, linear.out_features, bias=False, dtype=dtype)
            with torch.no_grad():
                linear.lora_A.weight.zero_()
                linear.lora_B.weight.zero_()
            linear.forward = _adapted_forward(linear, spec.scaling)  # type: ignore[method-assign]
