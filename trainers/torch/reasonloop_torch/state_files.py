"""The trainer's state as checkpoint files, in activities/trainerState.ts's layout: `weights/` an HF model
directory (config.json, tokenizer and generation files carried over, model.safetensors float32, or shards
`model-0000i-of-0000n.safetensors` with `model.safetensors.index.json` above the shard size) and
`optimizer/state.safetensors` (AdamW's moments `m.<name>`, `v.<name>` interleaved in parameter order,
float32, the step count in the metadata key `reasonloop.optimizer_step` of every file; shards
`state-0000i-of-0000n.safetensors` with `state.safetensors.index.json` likewise), so either engine resumes
from the other's checkpoints. Files are written one tensor at a time (sharded_safetensors.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Mapping

import torch

from .model import read_weights
from .sharded_safetensors import (DEFAULT_MAX_SHARD_BYTES, Prefixed, ShardedTensors, is_weights_file, plan_shards,
                                  write_float32_file, write_order, write_sharded)
from .trainer_state import FullState, StateSource

WEIGHTS_GROUP = "weights"
OPTIMIZER_GROUP = "optimizer"
WEIGHTS_STEM = "model"
OPTIMIZER_STEM = "state"
STEP_METADATA = "reasonloop.optimizer_step"


def save_float32(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    """A float32 safetensors file laid out byte for byte as core/model/safetensors.ts writes it: tensors in
    name order, metadata {"format": "pt", then `metadata` in its order}, compact JSON. safetensors' own
    save_file orders the metadata keys by a per-process hash, so the same state saved by two processes
    (a trainer restarted after a rank died) would get two different sha256."""
    write_float32_file(path, [(n, tuple(t.shape)) for n, t in tensors.items()], tensors.__getitem__, metadata)


def read_moments(opt: Path) -> tuple[int, Mapping[str, torch.Tensor], Mapping[str, torch.Tensor]]:
    """The step count and AdamW's moments (float32, by parameter name, each read when asked for) of an
    `optimizer/` folder."""
    tensors = ShardedTensors(opt, OPTIMIZER_STEM)
    strays = [k for k in tensors if not k.startswith(("m.", "v."))]
    if strays:
        raise ValueError(f"{opt}: tensor {strays[0]} is neither m.<name> nor v.<name>")
    step = (tensors.metadata or {}).get(STEP_METADATA, "")
    if not step.isdigit():
        raise ValueError(f"{opt}: no valid {STEP_METADATA} metadata ({step!r})")
    return int(step), Prefixed(tensors, "m."), Prefixed(tensors, "v.")


def with_moments(opt: Path, params: Mapping[str, torch.Tensor]) -> FullState:
    """`params` with the moments and step count of the `optimizer/` folder `opt`, every one present."""
    step, m, v = read_moments(opt)
    missing = sorted(set(params) - set(m) | set(params) - set(v))
    if missing:
        raise ValueError(f"{opt}: moments of {missing[:5]} are missing")
    return FullState(step, params, m, v)


def read_state_dir(directory: Path) -> FullState:
    """Weights and moments (float32, each read when asked for) of a checkpoint folder holding `weights/`
    and `optimizer/`."""
    return with_moments(directory / OPTIMIZER_GROUP, read_weights(directory / WEIGHTS_GROUP))


def moment_entries(state: StateSource) -> list[tuple[str, tuple[int, ...]]]:
    """m.<name>, v.<name> per trained tensor, in parameter order (trainerState.ts writeMomentFiles)."""
    return [(f"{kind}.{name}", shape) for name, shape in state.entries() for kind in ("m", "v")]


def read_moment(state: StateSource, key: str) -> torch.Tensor:
    kind, _, name = key.partition(".")
    return state.tensor(kind, name)


def write_moments(opt: Path, state: StateSource, max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> None:
    """`optimizer/`: the moments as state.safetensors or its shards, the step count in every file."""
    opt.mkdir()
    write_sharded(opt, moment_entries(state), lambda key: read_moment(state, key), OPTIMIZER_STEM,
                  {STEP_METADATA: str(state.step)}, max_shard_bytes)


def files_by_group(directory: Path, groups: tuple[str, ...]) -> list[Path]:
    """The files as the TypeScript side lists them: group by group, each by name."""
    return [p for g in groups for p in sorted((directory / g).rglob("*"), key=lambda p: p.as_posix()) if p.is_file()]


def write_state_dir(directory: Path, base_weights_dir: Path, state: StateSource,
                    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> list[Path]:
    """Writes `weights/` (the base folder's other files + the weights) and `optimizer/`; returns the
    files as the TypeScript side lists them: the weights group, then the optimizer group, each by name."""
    weights = directory / WEIGHTS_GROUP
    weights.mkdir(parents=True)
    for f in sorted(base_weights_dir.iterdir()):
        if f.is_file() and not is_weights_file(f.name, WEIGHTS_STEM):
            shutil.copyfile(f, weights / f.name)
    write_sharded(weights, state.entries(), lambda name: state.tensor("param", name), WEIGHTS_STEM, {},
                  max_shard_bytes)
    write_moments(directory / OPTIMIZER_GROUP, state, max_shard_bytes)
    return files_by_group(directory, (WEIGHTS_GROUP, OPTIMIZER_GROUP))


def join_state_writes(state: StateSource, max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> None:
    """What a rank that writes nothing does while rank 0 runs write_state_dir on a LiveState: asks for
    the same tensors in the same order (each a collective), and drops them."""
    for name in write_order(plan_shards(state.entries(), max_shard_bytes, WEIGHTS_STEM)):
        state.tensor("param", name)
    for key in write_order(plan_shards(moment_entries(state), max_shard_bytes, OPTIMIZER_STEM)):
        read_moment(state, key)


def config_json_of(weights_dir: Path) -> dict:
    return json.loads((weights_dir / "config.json").read_text())
