"""The trainer's state — the trained weights, their AdamW moments, the step count — as full tensors keyed
by HF parameter name, moved in and out of a (possibly FSDP2-sharded) model and its optimizer. The trained
weights are the parameters that require a gradient: all of them, or the adapters of a LoRA run (lora.py),
whose frozen base is loaded apart (load_frozen). Reading a full tensor out of a sharded model is a
collective: every rank calls these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol

import torch

from .sharding import full_tensor, shard_like

#: What a state file holds of a trained tensor: its value, or AdamW's first or second moment.
KINDS = ("param", "m", "v")


class StateSource(Protocol):
    """A state as the checkpoint writer reads it: tensor by tensor, full and float32 on the CPU."""
    #: AdamW steps taken so far (the next is step + 1).
    step: int

    def entries(self) -> list[tuple[str, tuple[int, ...]]]:
        """The trained tensors' names and shapes, in HF state-dict order (which decides shard splits)."""
        ...

    def tensor(self, kind: str, name: str) -> torch.Tensor:
        """The full float32 `kind` ("param", "m" or "v") of `name`."""
        ...


@dataclass
class FullState:
    #: AdamW steps taken so far (the next is step + 1).
    step: int
    #: By name; a state read from files reads each tensor when asked for (sharded_safetensors.ShardedTensors).
    params: Mapping[str, torch.Tensor]
    m: Mapping[str, torch.Tensor]
    v: Mapping[str, torch.Tensor]

    def entries(self) -> list[tuple[str, tuple[int, ...]]]:
        return [(name, tuple(t.shape)) for name, t in self.params.items()]

    def tensor(self, kind: str, name: str) -> torch.Tensor:
        group = {"param": self.params, "m": self.m, "v": self.v}[kind]
        t = group.get(name)
        return torch.zeros_like(self.params[name]) if t is None else t


class LiveState:
    """The state of a (possibly FSDP2-sharded) model and its optimizer, each tensor gathered when the
    writer asks for it: a collective, so every rank asks for the same tensors in the same order
    (state_files.join_state_writes on the ranks that write nothing), and at most one full tensor exists
    at a time, whatever the model's size. Moments are zeros for a parameter AdamW has not stepped yet."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.named = trained_parameters(model)
        self.optimizer = optimizer
        steps = [s["step"] for s in (optimizer.state.get(p, {}) for p in self.named.values()) if "step" in s]
        self.step = int(steps[0].item()) if steps else 0

    def entries(self) -> list[tuple[str, tuple[int, ...]]]:
        return [(name, tuple(p.shape)) for name, p in self.named.items()]

    def tensor(self, kind: str, name: str) -> torch.Tensor:
        p = self.named[name]
        if kind == "param":
            return _cpu_float32(full_tensor(p.detach()))
        s = self.optimizer.state.get(p, {})
        if "exp_avg" not in s:
            return torch.zeros(tuple(p.shape), dtype=torch.float32)
        return _cpu_float32(full_tensor(s["exp_avg" if kind == "m" else "exp_avg_sq"]))


def _cpu_float32(t: torch.Tensor) -> torch.Tensor:
    """What a checkpoint holds: float32 on the CPU, whatever device or dtype the tensor lives in."""
    return t.to(device="cpu", dtype=torch.float32)


def trained_parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """The parameters the optimizer steps, by name: every one, or a LoRA run's adapters."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def gather_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> FullState:
    """The full state on every rank; moments are zeros for a parameter AdamW has not stepped yet."""
    params: dict[str, torch.Tensor] = {}
    m: dict[str, torch.Tensor] = {}
    v: dict[str, torch.Tensor] = {}
    step = 0
    for name, p in trained_parameters(model).items():
        params[name] = full_tensor(p.detach())
        s = optimizer.state.get(p, {})
        if "exp_avg" in s:
            m[name] = full_tensor(s["exp_avg"])
            v[name] = full_tensor(s["exp_avg_sq"])
            step = int(s["step"].item())
        else:
            m[name] = torch.zeros_like(params[name])
            v[name] = torch.zeros_like(params[name])
    return FullState(step, params, m, v)


def load_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: FullState) -> None:
    """Copies full weights and moments into the model's (sharded) parameters and AdamW's state."""
    named = trained_parameters(model)
    if set(named) != set(state.params):
        missing, extra = sorted(set(named) - set(state.params)), sorted(set(state.params) - set(named))
        raise ValueError(f"state does not match the model: missing {missing[:5]}, unexpected {extra[:5]}")
    with torch.no_grad():
        for name, p in named.items():
            p.copy_(shard_like(state.params[name], p))
            if state.step == 0:
                continue
            optimizer.state[p] = {
                "step": torch.tensor(float(state.step), dtype=torch.float32),
                "exp_avg": shard_like(state.m[name], p),
                "exp_avg_sq": shard_like(state.v[name], p),
            }


def load_frozen(model: torch.nn.Module, weights: Mapping[str, torch.Tensor]) -> None:
    """Copies a LoRA run's base weights into the frozen parameters (every one, by name; a tied lm_head
    is absent from both)."""
    frozen = {name: p for name, p in model.named_parameters() if not p.requires_grad}
    if set(frozen) != set(weights):
        missing, extra = sorted(set(frozen) - set(weights)), sorted(set(weights) - set(frozen))
        raise ValueError(f"base weights do not match the model: missing {missing[:5]}, unexpected {extra[:5]}")
    with torch.no_grad():
        for name, p in frozen.items():
            p.copy_(shard_like(weights[name], p))
