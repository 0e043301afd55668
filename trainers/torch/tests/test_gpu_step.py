"""The device step (python -m reasonloop_torch.gpu_step), run here on the CPU at a tiny shape with two gloo
ranks: the trainer's FSDP2 update with bf16 mixed precision (parameters gathered and computed in bfloat16,
gradients reduced in float32) gives the float32 run's loss and metrics within bf16's tolerance; the
gathered state's sha256 repeats for a seed; and `--device cuda` without a GPU stops with a clear error
(the worker's too)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reasonloop_torch.run_config import mixed_precision_of
from reasonloop_torch.sharding import mixed_precision_policy

PACKAGE = Path(__file__).resolve().parents[1]
#: bfloat16 keeps 8 significant bits (2⁻⁸ ≈ 4e-3 per rounding): loss, entropy and gradient norm within 1e-2
#: relative; log-ratio means (near 0) within 1e-3 absolute; a clip fraction within two tokens of the 768.
RELATIVE = {"loss": 1e-2, "pgLoss": 1e-2, "entropy": 1e-2, "gradNorm": 1e-2, "approxKlK3": 1e-2}
ABSOLUTE = {"approxKl": 1e-3, "clipFracHigh": 2 / 768, "clipFracLow": 2 / 768, "dualClipFrac": 2 / 768}


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PACKAGE), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], cwd=PACKAGE, env=env, capture_output=True, text=True, timeout=600)


def step(mixed_precision: str, *extra: str) -> dict:
    r = run("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "reasonloop_torch.gpu_step",
            "--shape", "tiny", "--device", "cpu", "--mixed-precision", mixed_precision, *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_bf16_mixed_precision_within_tolerance_of_float32():
    f32, bf16 = step("none"), step("bf16")
    assert (f32["ranks"], f32["optimizerStep"], bf16["mixedPrecision"]) == (2, 1, "bf16")
    a, b = f32["metrics"], bf16["metrics"]
    assert a["clipFracHigh"] > 0 and a["clipFracLow"] > 0 and a["loss"] != 0, a
    for name, tol in RELATIVE.items():
        assert abs(a[name] - b[name]) <= tol * abs(a[name]), (name, a[name], b[name])
    for name, tol in ABSOLUTE.items():
        assert abs(a[name] - b[name]) <= tol, (name, a[name], b[name])
    # bfloat16 did compute: the runs are close, not equal.
    assert any(a[n] != b[n] for n in RELATIVE), (a, b)
    print(json.dumps({"float32": a, "bf16": b}))


def test_state_sha256_repeats_for_a_seed_and_differs_across_seeds():
    """What a GPU machine runs twice to show the sharded bf16 step is bit-exact there (docs/torch-trainer.md)."""
    first, again, other = (step("bf16", "--state-sha256", "--seed", s)["stateSha256"] for s in ("0", "0", "1"))
    assert len(first) == 64 and first == again and first != other


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("module", ["reasonloop_torch.gpu_step", "reasonloop_torch.worker"])
def test_cuda_without_a_gpu_is_a_clear_error(module):
    r = run("-m", module, "--device", "cuda")
    assert r.returncode == 2
    assert "--device cuda, but torch sees no CUDA device" in r.stderr, r.stderr


def test_mixed_precision_option():
    assert mixed_precision_of({"orchestration": {"trainer": {"engine": "torch", "mixedPrecision": "bf16"}}}) == "bf16"
    assert mixed_precision_of({"orchestration": {"trainer": {"engine": "torch"}}}) is None
    assert mixed_precision_of({}) is None
    policy = mixed_precision_policy("bf16")
    assert (policy.param_dtype, policy.reduce_dtype) == (torch.bfloat16, torch.float32)
    assert mixed_precision_policy(None).param_dtype is None
    with pytest.raises(ValueError, match="fp16"):
        mixed_precision_policy("fp16")
