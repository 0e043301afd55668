"""Float32 safetensors, one file or shards with an index, byte for byte as core/model/safetensors.ts and
core/model/safetensorsShards.ts write them (transformers' `save_pretrained` layout): tensors packed in
state-dict order into shards of at most `max_shard_size` bytes (huggingface_hub's rule: a tensor larger
than the limit gets a shard of its own, appended at once; otherwise a shard that would overflow is closed),
`<stem>-00001-of-00003.safetensors`, and `<stem>.safetensors.index.json`; one shard is plain
`<stem>.safetensors` with no index. Within a file the tensors go in name order, the header is compact JSON
with the metadata {"format": "pt", then the caller's keys in order} and space-padded to 8 bytes. Tensors
are asked of `read` one at a time, when their turn to be written comes, so no whole state is ever held."""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import torch
from safetensors import safe_open

#: huggingface_hub's MAX_SHARD_SIZE ("5GB", decimal), the default of `save_pretrained` and of the TypeScript writer.
DEFAULT_MAX_SHARD_BYTES = 5 * 10**9
#: transformers refuses safetensors whose metadata lacks format "pt".
HF_METADATA = {"format": "pt"}
#: The header is padded with spaces so that tensor data starts 8-byte aligned, as the reference writer does.
HEADER_ALIGNMENT = 8
F32_BYTES = 4

#: A tensor's name and shape: what a file's header needs before any data is written.
Entry = tuple[str, Sequence[int]]
#: The full float32 tensor of a name, asked for when it is written.
Read = Callable[[str], torch.Tensor]


@dataclass(frozen=True)
class ShardPlan:
    #: Every file with its tensors, in state-dict order.
    files: list[tuple[str, list[str]]]
    weight_map: dict[str, str]
    total_size: int
    total_parameters: int


def shard_file_name(stem: str, index: int, count: int) -> str:
    return f"{stem}.safetensors" if count == 1 else f"{stem}-{index + 1:05d}-of-{count:05d}.safetensors"


def shard_index_file_name(stem: str) -> str:
    return f"{stem}.safetensors.index.json"


def plan_shards(entries: Sequence[Entry], max_shard_bytes: int, stem: str) -> ShardPlan:
    """safetensorsShards.ts planShards for float32 tensors."""
    if max_shard_bytes <= 0:
        raise ValueError(f"max shard size {max_shard_bytes} must be a positive number of bytes")
    shards: list[list[str]] = []
    current: list[str] = []
    current_size = total_size = total_parameters = 0
    for name, shape in entries:
        count = math.prod(shape)
        size = count * F32_BYTES
        total_size += size
        total_parameters += count
        if size > max_shard_bytes:
            shards.append([name])
            continue
        if current_size + size > max_shard_bytes:
            shards.append(current)
            current, current_size = [], 0
        current.append(name)
        current_size += size
    if current:
        shards.append(current)
    files = [(shard_file_name(stem, i, len(shards)), names) for i, names in enumerate(shards)]
    return ShardPlan(files, {n: f for f, names in files for n in names}, total_size, total_parameters)


def shard_index_json(plan: ShardPlan) -> str:
    """The index as transformers (and shardIndexJson) writes it: keys sorted, two-space indent, newline."""
    index = {"metadata": {"total_parameters": plan.total_parameters, "total_size": plan.total_size},
             "weight_map": {n: plan.weight_map[n] for n in sorted(plan.weight_map)}}
    return json.dumps(index, indent=2) + "\n"


def write_order(plan: ShardPlan) -> list[str]:
    """The order the writer asks for tensors: file by file, each file's tensors by name. A rank that only
    joins the collectives of a gathered state follows it too."""
    return [n for _, names in plan.files for n in sorted(names)]


def write_float32_file(path: Path, entries: Sequence[Entry], read: Read, metadata: dict[str, str]) -> None:
    """One safetensors file of `entries`, each tensor read and written in turn."""
    shapes = {name: list(shape) for name, shape in entries}
    if len(shapes) != len(entries):
        raise ValueError(f"{path.name}: a tensor name appears twice")
    names = sorted(shapes)
    header: dict[str, object] = {"__metadata__": {**HF_METADATA, **metadata}}
    offset = 0
    for name in names:
        size = math.prod(shapes[name]) * F32_BYTES
        header[name] = {"dtype": "F32", "shape": shapes[name], "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-(8 + len(text.encode())) % HEADER_ALIGNMENT)
    raw = text.encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name in names:
            t = read(name).detach().to(device="cpu", dtype=torch.float32).contiguous()
            if list(t.shape) != shapes[name]:
                raise ValueError(f"{path.name}: tensor {name} has shape {list(t.shape)}, expected {shapes[name]}")
            f.write(t.numpy().tobytes())


def write_sharded(directory: Path, entries: Sequence[Entry], read: Read, stem: str,
                  metadata: dict[str, str] | None = None,
                  max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> ShardPlan:
    """writeShardedSafetensors into a fresh `directory`: the shards (metadata in every one) and, for more
    than one, the index. `entries` in state-dict order, which decides where shards split."""
    plan = plan_shards(entries, max_shard_bytes, stem)
    shapes = dict(entries)
    for file, names in plan.files:
        write_float32_file(directory / file, [(n, shapes[n]) for n in names], read, metadata or {})
    if len(plan.files) > 1:
        (directory / shard_index_file_name(stem)).write_text(shard_index_json(plan))
    return plan


def safetensors_files(directory: Path, stem: str) -> dict[str, set[str] | None]:
    """The files of a `<stem>` checkpoint: the shards the index names, each with the tensors it should
    hold, or the single `<stem>.safetensors` (None: whatever it holds)."""
    index = directory / shard_index_file_name(stem)
    if index.exists():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{index}: not an index with a weight_map ({e})") from e
        out: dict[str, set[str] | None] = {}
        for tensor, file in weight_map.items():
            if not isinstance(file, str) or "/" in file or "\\" in file:
                raise ValueError(f"{index}: weight_map entry for {tensor} is not a file name ({file!r})")
            listed = out.setdefault(file, set())
            assert listed is not None
            listed.add(tensor)
        return out
    single = directory / f"{stem}.safetensors"
    if not single.exists():
        raise FileNotFoundError(f"{single}: missing (no {single.name} and no {index.name})")
    return {single.name: None}


class ShardedTensors(Mapping[str, torch.Tensor]):
    """The tensors of a `<stem>` checkpoint (sharded or not) by name, each read from its file as float32
    when asked for (so a state is loaded into a model's shards a tensor at a time, never whole). Opening
    checks the index against the files' headers, as readShardedSafetensors does."""

    def __init__(self, directory: Path, stem: str) -> None:
        self.file_of: dict[str, Path] = {}
        self.metadata: dict[str, str] | None = None
        for file, listed in safetensors_files(directory, stem).items():
            path = directory / file
            if not path.exists():
                raise FileNotFoundError(f"{path}: missing (listed in {shard_index_file_name(stem)})")
            with safe_open(str(path), framework="pt") as f:
                if self.metadata is None:
                    self.metadata = dict(f.metadata() or {})
                keys = list(f.keys())
            for name in sorted((listed or set()) - set(keys)):
                raise ValueError(f"{file}: tensor {name} is missing ({shard_index_file_name(stem)} places it here)")
            for name in keys:
                if name in self.file_of:
                    raise ValueError(f"{file}: tensor {name} is also in {self.file_of[name].name}")
                self.file_of[name] = path

    def __getitem__(self, name: str) -> torch.Tensor:
        with safe_open(str(self.file_of[name]), framework="pt") as f:
            return f.get_tensor(name).to(torch.float32)

    def __iter__(self) -> Iterator[str]:
        return iter(self.file_of)

    def __len__(self) -> int:
        return len(self.file_of)


class Prefixed(Mapping[str, torch.Tensor]):
    """The tensors of `tensors` named `<prefix><name>`, by `<name>` (AdamW's `m.` and `v.` moments)."""

    def __init__(self, tensors: Mapping[str, torch.Tensor], prefix: str) -> None:
        self.tensors = tensors
        self.prefix = prefix
        self.names = [k[len(prefix):] for k in tensors if k.startswith(prefix)]

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[self.prefix + name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def is_weights_file(name: str, stem: str) -> bool:
    """A file of a `<stem>` checkpoint (single, shard or index), which a new save replaces."""
    return bool(re.fullmatch(rf"{re.escape(stem)}(-\d{{5}}-of-\d{{5}})?\.safetensors(\.index\.json)?", name))
