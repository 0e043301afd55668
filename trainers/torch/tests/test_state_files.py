"""The checkpoint's safetensors files as core/model/safetensors.ts writes them, byte for byte: the same
state gives the same sha256 whichever process (or engine) writes it."""

import struct

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from reasonloop_torch.state_files import save_float32

TENSORS = {"b": torch.tensor([1.5, -2.0]), "a": torch.arange(3, dtype=torch.float32).reshape(1, 3)}
#: What core/model/safetensors.ts's encodeHeader makes of TENSORS with the optimizer step (JSON.stringify,
#: metadata "format" first, tensors in name order, spaces to an 8-byte boundary).
TS_HEADER = ('{"__metadata__":{"format":"pt","reasonloop.optimizer_step":"3"},'
             '"a":{"dtype":"F32","shape":[1,3],"data_offsets":[0,12]},'
             '"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}')


def test_the_typescript_layout(tmp_path):
    path = tmp_path / "state.safetensors"
    save_float32(TENSORS, path, {"reasonloop.optimizer_step": "3"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0
    assert raw[8:8 + n].decode().rstrip(" ") == TS_HEADER
    assert raw[8 + n:] == TENSORS["a"].numpy().tobytes() + TENSORS["b"].numpy().tobytes()
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata() == {"format": "pt", "reasonloop.optimizer_step": "3"}
        assert torch.equal(f.get_tensor("a"), TENSORS["a"]) and torch.equal(f.get_tensor("b"), TENSORS["b"])


def test_the_reference_writer_with_one_metadata_key(tmp_path):
    """With one metadata key (its order cannot vary) safetensors' save_file writes the same bytes."""
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "theirs.safetensors"
    save_float32(TENSORS, ours, {})
    save_file(TENSORS, str(theirs), metadata={"format": "pt"})
    assert ours.read_bytes() == theirs.read_bytes()
