"""The trainer's state as checkpoint files, in activities/trainerState.ts's layout: `weights/` an HF model
directory (config.json, tokenizer and generation files carried over, model.safetensors float32) and
`optimizer/state.safetensors` (AdamW's moments `m.<name>`, `v.<name>`, float32, the step count in the
metadata key `reasonloop.optimizer_step`), so either engine resumes from the other's checkpoints."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import torch
from safetensors import safe_open

from .model import read_weights
from .trainer_state import FullState

WEIGHTS_GROUP = "weights"
OPTIMIZER_GROUP = "optimizer"
STEP_METADATA = "reasonloop.optimizer_step"
#: transformers refuses safetensors whose metadata lacks format "pt".
HF_METADATA = {"format": "pt"}
#: save_pretrained's default max_shard_size ("5GB"), which the TypeScript writer also uses.
MAX_SHARD_BYTES = 5 * 10**9


#: The header is padded with spaces so that tensor data starts 8-byte aligned, as the reference writer does.
HEADER_ALIGNMENT = 8


def save_float32(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    """A float32 safetensors file laid out byte for byte as core/model/safetensors.ts writes it: tensors in
    name order, metadata {"format": "pt", then `metadata` in its order}, compact JSON. safetensors' own
    save_file orders the metadata keys by a per-process hash, so the same state saved by two processes
    (a trainer restarted after a rank died) would get two different sha256."""
    names = sorted(tensors)
    header: dict[str, object] = {"__metadata__": {**HF_METADATA, **metadata}}
    offset = 0
    for name in names:
        size = tensors[name].numel() * 4
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-(8 + len(text.encode())) % HEADER_ALIGNMENT)
    raw = text.encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name in names:
            f.write(tensors[name].detach().to(torch.float32).contiguous().numpy().tobytes())


def check_single_file(what: str, tensors: dict[str, torch.Tensor]) -> None:
    size = sum(t.numel() * 4 for t in tensors.values())
    if size > MAX_SHARD_BYTES:
        raise NotImplementedError(
            f"{what}: {size} bytes of float32 is above one 5 GB file; the torch trainer does not write shards yet")


def read_moments(opt: Path) -> tuple[int, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The step count and AdamW's moments (float32, by parameter name) of an `optimizer/` folder."""
    files = sorted(p for p in opt.iterdir() if p.name.endswith(".safetensors"))
    if not files:
        raise FileNotFoundError(f"{opt}: no optimizer state files")
    m: dict[str, torch.Tensor] = {}
    v: dict[str, torch.Tensor] = {}
    step = None
    for f in files:
        with safe_open(str(f), framework="pt") as sf:
            meta = sf.metadata() or {}
            if step is None:
                step = int(meta.get(STEP_METADATA, "-1"))
            for key in sf.keys():
                kind, _, name = key.partition(".")
                (m if kind == "m" else v)[name] = sf.get_tensor(key).to(torch.float32)
    if step is None or step < 0:
        raise ValueError(f"{files[0]}: no valid {STEP_METADATA} metadata")
    return step, m, v


def with_moments(opt: Path, params: dict[str, torch.Tensor]) -> FullState:
    """`params` with the moments and step count of the `optimizer/` folder `opt`, every one present."""
    step, m, v = read_moments(opt)
    missing = sorted(set(params) - set(m) | set(params) - set(v))
    if missing:
        raise ValueError(f"{opt}: moments of {missing[:5]} are missing")
    return FullState(step, params, m, v)


def read_state_dir(directory: Path) -> FullState:
    """Weights and moments (float32) of a checkpoint folder holding `weights/` and `optimizer/`."""
    params = {k: v.to(torch.float32) for k, v in read_weights(directory / WEIGHTS_GROUP).items()}
    return with_moments(directory / OPTIMIZER_GROUP, params)


def write_moments(opt: Path, state: FullState) -> None:
    """`optimizer/state.safetensors`: m.<name>, v.<name> (float32), the step count in the metadata."""
    opt.mkdir()
    moments = {f"m.{k}": t.to(torch.float32).contiguous() for k, t in state.m.items()}
    moments.update({f"v.{k}": t.to(torch.float32).contiguous() for k, t in state.v.items()})
    check_single_file("optimizer state", moments)
    save_float32(moments, opt / "state.safetensors", {STEP_METADATA: str(state.step)})


def files_by_group(directory: Path, groups: tuple[str, ...]) -> list[Path]:
    """The files as the TypeScript side lists them: group by group, each by name."""
    return [p for g in groups for p in sorted((directory / g).rglob("*"), key=lambda p: p.as_posix()) if p.is_file()]


def write_state_dir(directory: Path, base_weights_dir: Path, state: FullState) -> list[Path]:
    """Writes `weights/` (the base folder's other files + model.safetensors) and `optimizer/`; returns the
    files as the TypeScript side lists them: the weights group, then the optimizer group, each by name."""
    weights = directory / WEIGHTS_GROUP
    weights.mkdir(parents=True)
    for f in sorted(base_weights_dir.iterdir()):
        if f.is_file() and not f.name.startswith("model.safetensors") and not f.name.startswith("model-"):
            shutil.copyfile(f, weights / f.name)
    params = {k: t.detach().to(torch.float32).contiguous() for k, t in state.params.items()}
    check_single_file("weights", params)
    save_float32(params, weights / "model.safetensors", {})
    write_moments(directory / OPTIMIZER_GROUP, state)
    return files_by_group(directory, (WEIGHTS_GROUP, OPTIMIZER_GROUP))


def config_json_of(weights_dir: Path) -> dict:
    return json.loads((weights_dir / "config.json").read_text())
