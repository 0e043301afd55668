"""A LoRA run's trainer state as checkpoint files, in activities/loraState.ts's layout: `adapter/` a PEFT
adapter directory (adapter_config.json, adapter_model.safetensors with tensors named `base_model.model.` +
the adapter's parameter name, float32) plus `adapter/base_model.json`, the reference to the frozen base
(the run's model source and store URL, never a copy of the base), and `optimizer/` the adapters' AdamW
moments only. core/model/peftAdapter.ts writes and reads the same files, so either engine resumes from the
other's checkpoints and PeftModel.from_pretrained loads the adapters as they are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from .lora import TARGET_MODULES, LoraSpec
from .state_files import OPTIMIZER_GROUP, files_by_group, save_float32, with_moments, write_moments
from .trainer_state import FullState

ADAPTER_GROUP = "adapter"
ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"
BASE_REF_FILE = "base_model.json"
#: What PeftModel prefixes to the wrapped model's parameter names in its state dict.
PEFT_PREFIX = "base_model.model."


def _number(x: float) -> float | int:
    """An integral float as an int, so the JSON reads as JavaScript's does (16, not 16.0)."""
    return int(x) if float(x).is_integer() else x


def peft_adapter_config(spec: LoraSpec, base_model_name_or_path: str | None) -> dict[str, Any]:
    """core/model/peftAdapter.ts peftAdapterConfig, key for key and in its order."""
    return {
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": base_model_name_or_path,
        "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
        "layers_pattern": None, "layers_to_transform": None, "lora_alpha": _number(spec.alpha), "lora_dropout": 0,
        "modules_to_save": None, "peft_type": "LORA", "r": spec.rank, "rank_pattern": {}, "revision": None,
        "target_modules": list(spec.target_modules), "task_type": "CAUSAL_LM", "use_dora": False,
        "use_rslora": False,
    }


def base_reference(config: dict[str, Any]) -> dict[str, Any]:
    """activities/loraState.ts baseReference: the run's model source and store URL (no credentials)."""
    return {"model": config["model"], "store": {"url": config["store"]["url"]}}


def write_lora_state_dir(directory: Path, spec: LoraSpec, base_ref: dict[str, Any], state: FullState) -> list[Path]:
    """Writes `adapter/` and `optimizer/`; returns the files group by group, each by name."""
    adapter = directory / ADAPTER_GROUP
    adapter.mkdir(parents=True)
    tensors = {PEFT_PREFIX + k: t.detach().to(torch.float32).contiguous() for k, t in state.params.items()}
    save_float32(tensors, adapter / ADAPTER_WEIGHTS_FILE, {})
    config = peft_adapter_config(spec, base_ref["model"].get("dir"))
    (adapter / ADAPTER_CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    (adapter / BASE_REF_FILE).write_text(json.dumps(base_ref, separators=(",", ":"), ensure_ascii=False) + "\n")
    write_moments(directory / OPTIMIZER_GROUP, state)
    return files_by_group(directory, (ADAPTER_GROUP, OPTIMIZER_GROUP))


def _spec_of(adapter_config: dict[str, Any]) -> LoraSpec:
    targets = adapter_config.get("target_modules")
    names = TARGET_MODULES if targets == "all-linear" else tuple(m for m in TARGET_MODULES if m in targets)
    return LoraSpec(rank=adapter_config["r"], alpha=adapter_config["lora_alpha"], target_modules=names)


def read_lora_state_dir(directory: Path, expected: LoraSpec, names: list[str]) -> FullState:
    """The adapters `names` and their moments (float32) of a checkpoint folder holding `adapter/` and
    `optimizer/`; adapters of another rank, alpha or target set than the run config's are refused."""
    adapter = directory / ADAPTER_GROUP
    spec = _spec_of(json.loads((adapter / ADAPTER_CONFIG_FILE).read_text()))
    if (spec.rank, float(spec.alpha), spec.target_modules) != (expected.rank, float(expected.alpha),
                                                               expected.target_modules):
        raise ValueError(f"{adapter}: adapters r={spec.rank} alpha={spec.alpha} {list(spec.target_modules)} do not "
                         f"match the config's r={expected.rank} alpha={expected.alpha} {list(expected.target_modules)}")
    raw = load_file(str(adapter / ADAPTER_WEIGHTS_FILE))
    wanted = {PEFT_PREFIX + n for n in names}
    if set(raw) != wanted:
        missing, extra = sorted(wanted - set(raw)), sorted(set(raw) - wanted)
        raise ValueError(f"{adapter / ADAPTER_WEIGHTS_FILE}: missing {missing[:5]}, unexpected {extra[:5]}")
    params = {n: raw[PEFT_PREFIX + n].to(torch.float32) for n in names}
    return with_moments(directory / OPTIMIZER_GROUP, params)
