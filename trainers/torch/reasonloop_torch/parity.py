"""The torch side of the parity test (test/integration/torch/parity.test.ts): for each case folder the
test wrote — config.json, initial.safetensors, case.json (algorithm, rows, per-RL-step context) — run the
same updates through FSDP2 and write torch.json (metrics per optimizer step) and torch.safetensors (the
final trained weights and moments as `param.`, `m.`, `v.` + name, float64 whatever the case's dtype), rank
0 only. With `algorithm.lora` initial.safetensors holds the base weights and the adapters; only the
adapters train (and are written).
torch.json also holds each RL step's update wall time (updateMs), which bench:update --engine torch reports.

usage: [torchrun --nproc-per-node N] python -m reasonloop_torch.parity ROOT OUT_NAME
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .lora import LoraSpec, add_lora
from .model import build_qwen2
from .policy_update import UpdateContext, UpdateSettings, make_optimizer, update
from .sharding import init_ranks, leave_ranks, shard_model
from .trainer_state import FullState, gather_state, load_frozen, load_state, trained_parameters

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def run_case(case_dir: Path, out_name: str, rank: int) -> None:
    case = json.loads((case_dir / "case.json").read_text())
    dtype = DTYPES[case["dtype"]]
    model = build_qwen2(case_dir / "config.json", dtype)
    if case["algorithm"].get("lora"):
        add_lora(model, LoraSpec.from_config(case["algorithm"]["lora"]))
    model = shard_model(model)
    optimizer = make_optimizer(model, case["algorithm"]["optimizer"])
    initial = {k: v.to(dtype) for k, v in load_file(str(case_dir / "initial.safetensors")).items()}
    trained = set(trained_parameters(model))
    frozen = {k: v for k, v in initial.items() if k not in trained}
    if frozen:
        load_frozen(model, frozen)
    load_state(model, optimizer, FullState(0, {k: v for k, v in initial.items() if k in trained}, {}, {}))
    settings = UpdateSettings.from_algorithm(case["algorithm"])
    records = []
    #: Wall time of each RL step's update (bench:update --engine torch reports it; the test ignores it).
    update_ms = []
    for ctx in case["steps"]:
        context = UpdateContext(seed=ctx["seed"], step=ctx["step"], temperature=ctx["temperature"], lr=ctx["lr"],
                                kl_coef=ctx["klCoef"], max_length=ctx.get("maxLength"))
        start = time.perf_counter()
        records += update(model, optimizer, case["rows"], settings, context, dtype)
        update_ms.append((time.perf_counter() - start) * 1000)
    state = gather_state(model, optimizer)
    if rank == 0:
        tensors = {f"param.{k}": t for k, t in state.params.items()}
        tensors.update({f"m.{k}": t for k, t in state.m.items()})
        tensors.update({f"v.{k}": t for k, t in state.v.items()})
        save_file({k: t.to(torch.float64).contiguous() for k, t in tensors.items()}, str(case_dir / f"{out_name}.safetensors"))
        (case_dir / f"{out_name}.json").write_text(json.dumps({"step": state.step, "metrics": records, "updateMs": update_ms}))


def main() -> None:
    root, out_name = Path(sys.argv[1]), sys.argv[2]
    torch.use_deterministic_algorithms(True)
    rank, _ = init_ranks("cpu")
    for case_dir in sorted(p for p in root.iterdir() if (p / "case.json").exists()):
        run_case(case_dir, out_name, rank)
    leave_ranks()


if __name__ == "__main__":
    main()
