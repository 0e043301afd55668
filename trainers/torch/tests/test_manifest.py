"""Manifests as core/store/manifest.ts signs them: canonical JSON with numbers as JavaScript prints them
(the expected strings are JSON.stringify's, printed by Node)."""

import hashlib
import json

from reasonloop_torch.manifest import canonical_json, checkpoint_key, js_number, manifest_problem

NODE = [(0.1, "0.1"), (1e-7, "1e-7"), (1.5e-6, "0.0000015"), (0.000001, "0.000001"),
        (123456789012345680000.0, "123456789012345680000"), (1e21, "1e+21"), (2.5e22, "2.5e+22"), (-3.25, "-3.25"),
        (100.0, "100"), (1e-5, "0.00001"), (1 / 3, "0.3333333333333333"), (12345.678, "12345.678"),
        (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (0.001, "0.001")]


def test_numbers_as_javascript_prints_them():
    for x, s in NODE:
        assert js_number(x) == s, x
    assert js_number(3) == "3"


def test_canonical_json_and_the_manifest_checksum():
    assert canonical_json({"b": [1, 0.5, None], "a": {"y": True, "x": "é"}}) == '{"a":{"x":"é","y":true},"b":[1,0.5,null]}'
    body = {"format": "reasonloop.checkpoint/1", "runId": "r1", "step": 3, "configHash": "h", "dataCursor": {},
            "rng": {"seed": 1}, "metrics": {"loss": 1e-7}, "objects": [], "prunedGroups": []}
    signed = {**body, "manifestSha256": hashlib.sha256(canonical_json(body).encode()).hexdigest()}
    raw = json.dumps(signed, indent=2).encode()
    manifest, problem = manifest_problem(raw, "r1", 3)
    assert problem is None and manifest == signed
    _, problem = manifest_problem(raw, "r1", 4)
    assert problem == "manifest is for run r1 step 3, found under run r1 step 4"
    _, problem = manifest_problem(raw.replace(b'"step": 3', b'"step": 2'), "r1", 2)
    assert problem is not None and problem.startswith("manifest checksum is")
    assert checkpoint_key("r1", 12, "weights/model.safetensors") == "runs/r1/steps/000012/weights/model.safetensors"
