"""Sharded checkpoint files: the torch trainer writes weights and optimizer state in the same shards as
activities/trainerState.ts (same boundaries, file names, index JSON, bytes) and reads the TypeScript
writer's shards back exactly. The TypeScript side runs as a script (test/integration/torch/writeStateFiles.ts)
on the same state, with a max shard size small enough to split a tiny model into many shards."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from transformers import Qwen2Config

from reasonloop_torch.model import build_qwen2
from reasonloop_torch.sharded_safetensors import plan_shards, shard_index_file_name
from reasonloop_torch.state_files import (OPTIMIZER_GROUP, STEP_METADATA, WEIGHTS_GROUP, join_state_writes,
                                          read_moments, read_state_dir, save_float32, write_state_dir)
from reasonloop_torch.trainer_state import LiveState, gather_state

ROOT = Path(__file__).resolve().parents[3]
#: The MLP weights (2048 bytes) exceed it and get shards of their own; the rest pack two or three a shard.
MAX_SHARD_BYTES = 1500


def stepped_model(tmp_path: Path):
    """A tiny Qwen2 after one AdamW step on random gradients: weights and both moments non-trivial."""
    torch.manual_seed(0)
    base = tmp_path / "base"
    base.mkdir()
    Qwen2Config(vocab_size=12, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                num_key_value_heads=1, tie_word_embeddings=False).to_json_file(str(base / "config.json"))
    model = build_qwen2(base / "config.json", torch.float32)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
            p.grad = torch.randn_like(p)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, foreach=False)
    optimizer.step()
    return base, model, optimizer


def typescript_state_files(tmp_path: Path, base: Path, state) -> Path:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "tsx").exists():
        pytest.skip("needs node and the repository's node_modules (npm ci) to run the TypeScript writer")
    given = tmp_path / "ts-in"
    given.mkdir()
    shutil.copyfile(base / "config.json", given / "config.json")
    tensors = {f"{kind}.{name}": state.tensor(kind, name) for name, _ in state.entries() for kind in ("param", "m", "v")}
    save_float32(tensors, given / "state.safetensors", {STEP_METADATA: str(state.step)})
    out = tmp_path / "ts-out"
    r = subprocess.run([node, "--import", "tsx", "test/integration/torch/writeStateFiles.ts", str(given), str(out),
                        str(MAX_SHARD_BYTES)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def checkpoint_files(directory: Path) -> dict[str, bytes]:
    """The state files of a checkpoint folder (config and tokenizer files aside: each side copies its own)."""
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for g in (WEIGHTS_GROUP, OPTIMIZER_GROUP) for p in sorted((directory / g).iterdir())
            if ".safetensors" in p.name}


def test_shards_byte_for_byte_as_the_typescript_writer(tmp_path):
    base, model, optimizer = stepped_model(tmp_path)
    ours = tmp_path / "torch-out"
    write_state_dir(ours, base, LiveState(model, optimizer), MAX_SHARD_BYTES)
    theirs = typescript_state_files(tmp_path, base, gather_state(model, optimizer))
    mine, ts = checkpoint_files(ours), checkpoint_files(theirs)
    assert sorted(mine) == sorted(ts)
    weight_shards = [n for n in mine if n.startswith("weights/model-")]
    moment_shards = [n for n in mine if n.startswith("optimizer/state-")]
    assert len(weight_shards) > 3 and len(moment_shards) > 3, sorted(mine)
    assert f"weights/{shard_index_file_name('model')}" in mine
    assert f"optimizer/{shard_index_file_name('state')}" in mine
    for name in mine:
        assert mine[name] == ts[name], name


def test_reads_the_typescript_shards_exactly(tmp_path):
    base, model, optimizer = stepped_model(tmp_path)
    full = gather_state(model, optimizer)
    read = read_state_dir(typescript_state_files(tmp_path, base, full))
    assert read.step == full.step == 1
    for group in ("params", "m", "v"):
        got, want = getattr(read, group), getattr(full, group)
        assert set(got) == set(want)
        assert all(torch.equal(got[k], want[k]) for k in want), group


def test_a_rank_that_writes_nothing_gathers_in_the_writers_order(tmp_path):
    """Each gather is a collective: rank 0 (writing) and the others (join_state_writes) must ask alike."""
    base, model, optimizer = stepped_model(tmp_path)

    class Recorded(LiveState):
        def __init__(self):
            super().__init__(model, optimizer)
            self.asked = []

        def tensor(self, kind, name):
            self.asked.append((kind, name))
            return super().tensor(kind, name)

    writer, joiner = Recorded(), Recorded()
    write_state_dir(tmp_path / "out", base, writer, MAX_SHARD_BYTES)
    join_state_writes(joiner, MAX_SHARD_BYTES)
    assert writer.asked == joiner.asked and len(writer.asked) == 3 * len(writer.entries())


def test_one_shard_is_a_plain_file_with_no_index(tmp_path):
    base, model, optimizer = stepped_model(tmp_path)
    write_state_dir(tmp_path / "out", base, LiveState(model, optimizer))
    assert sorted(checkpoint_files(tmp_path / "out")) == ["optimizer/state.safetensors", "weights/model.safetensors"]


def test_huggingface_shard_rule():
    """A tensor over the limit gets a shard of its own at once, before the shard being filled."""
    plan = plan_shards([("a", (100,)), ("big", (1000,)), ("b", (100,)), ("c", (200,))], 1000, "model")
    assert plan.files == [("model-00001-of-00003.safetensors", ["big"]), ("model-00002-of-00003.safetensors", ["a", "b"]),
                          ("model-00003-of-00003.safetensors", ["c"])]
    assert (plan.total_size, plan.total_parameters) == (5600, 1400)
    index = json.loads(json.dumps(plan.weight_map))
    assert index == {"a": plan.files[1][0], "b": plan.files[1][0], "big": plan.files[0][0], "c": plan.files[2][0]}


def test_a_checkpoint_that_contradicts_its_index_is_refused_by_name(tmp_path):
    base, model, optimizer = stepped_model(tmp_path)
    write_state_dir(tmp_path / "out", base, LiveState(model, optimizer), MAX_SHARD_BYTES)
    index_path = tmp_path / "out" / WEIGHTS_GROUP / shard_index_file_name("model")
    index = json.loads(index_path.read_text())
    shards = sorted(set(index["weight_map"].values()))
    elsewhere = next(f for f in shards if f != index["weight_map"]["model.norm.weight"])
    index["weight_map"]["model.norm.weight"] = elsewhere
    index_path.write_text(json.dumps(index))
    with pytest.raises(ValueError, match="tensor model.norm.weight is missing"):
        read_state_dir(tmp_path / "out")
    (tmp_path / "out" / OPTIMIZER_GROUP / "state-00002-of-00028.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="state-00002-of-00028.safetensors: missing"):
        read_moments(tmp_path / "out" / OPTIMIZER_GROUP)
