"""A LoRA run's checkpoint files as activities/loraState.ts and core/model/peftAdapter.ts write them: the
PEFT adapter config byte for byte, adapters and moments read back, adapters of another spec refused."""

import json

import pytest
import torch

from reasonloop_torch.adapter_files import (ADAPTER_CONFIG_FILE, ADAPTER_GROUP, BASE_REF_FILE, peft_adapter_config,
                                            read_lora_state_dir, write_lora_state_dir)
from reasonloop_torch.lora import LoraSpec, adapter_names
from reasonloop_torch.trainer_state import FullState

#: core/model/peftAdapter.ts: JSON.stringify(peftAdapterConfig({rank: 4, alpha: 8, targetModules: ["v_proj",
#: "q_proj"]}, "/models/base"), null, 2) + "\n".
TS_ADAPTER_CONFIG = ('{\n'
                     '  "alpha_pattern": {},\n'
                     '  "auto_mapping": null,\n'
                     '  "base_model_name_or_path": "/models/base",\n'
                     '  "bias": "none",\n'
                     '  "fan_in_fan_out": false,\n'
                     '  "inference_mode": true,\n'
                     '  "init_lora_weights": true,\n'
                     '  "layers_pattern": null,\n'
                     '  "layers_to_transform": null,\n'
                     '  "lora_alpha": 8,\n'
                     '  "lora_dropout": 0,\n'
                     '  "modules_to_save": null,\n'
                     '  "peft_type": "LORA",\n'
                     '  "r": 4,\n'
                     '  "rank_pattern": {},\n'
                     '  "revision": null,\n'
                     '  "target_modules": [\n'
                     '    "q_proj",\n'
                     '    "v_proj"\n'
                     '  ],\n'
                     '  "task_type": "CAUSAL_LM",\n'
                     '  "use_dora": false,\n'
                     '  "use_rslora": false\n'
                     '}\n')
SPEC = LoraSpec.from_config({"rank": 4, "alpha": 8, "targetModules": ["v_proj", "q_proj"]})


def test_the_typescript_adapter_config():
    text = json.dumps(peft_adapter_config(SPEC, "/models/base"), indent=2, ensure_ascii=False) + "\n"
    assert text == TS_ADAPTER_CONFIG


def _state() -> FullState:
    names = adapter_names(2, SPEC)
    assert names[:2] == ["model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.0.self_attn.q_proj.lora_B.weight"]
    params = {n: torch.randn(4, 16) if "lora_A" in n else torch.randn(8, 4) for n in names}
    return FullState(3, params, {n: torch.randn_like(t) for n, t in params.items()},
                     {n: torch.rand_like(t) for n, t in params.items()})


def test_round_trip(tmp_path):
    state = _state()
    ref = {"model": {"dir": "/models/base"}, "store": {"url": "s3://bucket/prefix"}}
    files = write_lora_state_dir(tmp_path, SPEC, ref, state)
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "adapter/adapter_config.json", "adapter/adapter_model.safetensors", "adapter/base_model.json",
        "optimizer/state.safetensors"]
    assert (tmp_path / ADAPTER_GROUP / BASE_REF_FILE).read_text() == (
        '{"model":{"dir":"/models/base"},"store":{"url":"s3://bucket/prefix"}}\n')
    assert json.loads((tmp_path / ADAPTER_GROUP / ADAPTER_CONFIG_FILE).read_text())["base_model_name_or_path"] == (
        "/models/base")
    back = read_lora_state_dir(tmp_path, SPEC, adapter_names(2, SPEC))
    assert back.step == 3
    for kind in ("params", "m", "v"):
        for n, t in getattr(state, kind).items():
            assert torch.equal(getattr(back, kind)[n], t)


def test_adapters_of_another_spec_are_refused(tmp_path):
    write_lora_state_dir(tmp_path, SPEC, {"model": {"dir": "/b"}, "store": {"url": "s3://b"}}, _state())
    other = LoraSpec.from_config({"rank": 4, "alpha": 16, "targetModules": ["q_proj", "v_proj"]})
    with pytest.raises(ValueError, match="do not match the config's r=4 alpha=16"):
        read_lora_state_dir(tmp_path, other, adapter_names(2, other))
