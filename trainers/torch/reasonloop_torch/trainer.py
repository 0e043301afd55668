"""updatePolicy on every rank (activities/updatePolicy.ts): the state of step − 1 kept in memory between
steps, or reloaded from that step's verified checkpoint (every object's sha256 checked as it downloads);
the scored rows read by key; the update under FSDP2; the new weights and optimizer state written by rank 0
under the step's checkpoint prefix, each object's size and sha256 returned for the manifest. A LoRA run's
state is its adapters (adapter_files.py); the frozen base comes from the run's model source (model.dir,
or model.checkpoint in the run's store), loaded on every cold start."""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist

from .adapter_files import ADAPTER_GROUP, base_reference, read_lora_state_dir, write_lora_state_dir
from .lora import LoraSpec, adapter_names, add_lora
from .manifest import checkpoint_key, manifest_key, manifest_problem
from .model import build_qwen2, read_weights
from .policy_update import UpdateContext, UpdateSettings, make_optimizer, update
from .run_config import lr_schedule_of, mixed_precision_of, unsupported_options, with_defaults
from .schedules import kl_coef_at, lr_at
from .sharding import shard_model
from .state_files import (OPTIMIZER_GROUP, WEIGHTS_GROUP, config_json_of, join_state_writes, read_state_dir,
                          write_state_dir)
from .store import ObjectStore, open_store
from .trainer_state import LiveState, gather_state, load_frozen, load_state


class PermanentError(Exception):
    """A failure a retry cannot fix (bad config, a checkpoint that does not verify): non-retryable."""


@dataclass
class Warm:
    config_hash: str
    step: int
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    #: The previous checkpoint's weights folder (config.json, tokenizer and generation files to carry
    #: over), or a LoRA run's base model folder.
    base_dir: Path
    lora: LoraSpec | None = None


class Trainer:
    def __init__(self, rank: int, device_type: str = "cpu") -> None:
        self.rank = rank
        self.device_type = device_type
        self.warm: Warm | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix="reasonloop-torch-"))

    def _restore(self, store: ObjectStore, run_id: str, step: int, target: Path,
                 groups: tuple[str, ...] = (WEIGHTS_GROUP, ADAPTER_GROUP, OPTIMIZER_GROUP)) -> list[str]:
        """Downloads the `groups` of the verified checkpoint `step` into `target`; returns every object's
        name the manifest lists."""
        try:
            raw = store.get_bytes(manifest_key(run_id, step))
        except Exception as e:  # noqa: BLE001 - the store's own error names the key
            raise RuntimeError(f"{store.location}: checkpoint {step} of run {run_id}: {e}") from e
        manifest, problem = manifest_problem(raw, run_id, step)
        if problem:
            raise PermanentError(f"checkpoint {step} of run {run_id} in {store.location}: {problem}")
        assert manifest is not None
        for obj in manifest["objects"]:
            if not obj["name"].startswith(tuple(f"{g}/" for g in groups)):
                continue
            got = store.download(checkpoint_key(run_id, step, obj["name"]), target / obj["name"])
            if got.sha256 != obj["sha256"] or got.size != obj["size"]:
                raise RuntimeError(f"{store.location}: {obj['name']} of checkpoint {step} has sha256 {got.sha256} "
                                   f"({got.size} bytes), the manifest says {obj['sha256']} ({obj['size']} bytes)")
        return [obj["name"] for obj in manifest["objects"]]

    def _lora_base(self, store: ObjectStore, config: dict[str, Any], folder: Path) -> Path:
        """The folder of a LoRA run's frozen base (an HF model directory): model.dir as it is, or
        model.checkpoint's weights restored from the run's store into `folder`."""
        source = config["model"]
        if source.get("dir"):
            base = Path(source["dir"])
            if not (base / "config.json").exists():
                raise PermanentError(f"model.dir {base}: not an HF model directory (no config.json) on this worker")
            return base
        if source.get("checkpoint"):
            ref = source["checkpoint"]
            names = self._restore(store, ref["runId"], int(ref["step"]), folder, (WEIGHTS_GROUP,))
            if any(n.startswith(f"{ADAPTER_GROUP}/") for n in names):
                raise PermanentError(f"model.checkpoint (step {ref['step']} of run {ref['runId']}) holds LoRA adapters: "
                                     "the torch trainer takes a LoRA base from whole weights only")
            return folder / WEIGHTS_GROUP
        raise PermanentError("algorithm.lora with model.init: the torch trainer loads a LoRA base from model.dir or "
                             "model.checkpoint")

    def _state_at(self, store: ObjectStore, config: dict[str, Any], config_hash: str, step: int) -> tuple[Warm, bool]:
        if self.warm and self.warm.config_hash == config_hash and self.warm.step == step:
            return self.warm, False
        self.warm = None
        folder = self.scratch / f"restore-{step}-{time.monotonic_ns()}"
        self._restore(store, config["runId"], step, folder)
        lora = LoraSpec.from_config(config["algorithm"]["lora"]) if config["algorithm"].get("lora") else None
        base_dir = self._lora_base(store, config, folder / "base") if lora else folder / WEIGHTS_GROUP
        model = build_qwen2(base_dir / "config.json", torch.float32)
        if lora:
            add_lora(model, lora)
            state = read_lora_state_dir(folder, lora, adapter_names(config_json_of(base_dir)["num_hidden_layers"],
                                                                    lora))
        else:
            state = read_state_dir(folder)
        model = shard_model(model, self.device_type, mixed_precision_of(config))
        if config["algorithm"].get("gradientCheckpointing"):
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        optimizer = make_optimizer(model, config["algorithm"]["optimizer"])
        if lora:
            load_frozen(model, read_weights(base_dir))
        load_state(model, optimizer, state)
        return Warm(config_hash, step, model, optimizer, base_dir, lora), True

    def update_policy(self, request: dict[str, Any], on_progress: Callable[[str], None]) -> dict[str, Any] | None:
        """One updatePolicy on this rank; rank 0 returns the activity's output, the others None."""
        started = time.perf_counter()
        config = with_defaults(request["config"])
        refused = unsupported_options(config)
        if refused:
            raise PermanentError("the torch trainer cannot honour " + "; ".join(refused))
        store = open_store(config["store"]["url"])
        step = int(request["step"])
        warm, reloaded = self._state_at(store, config, request["configHash"], step - 1)
        on_progress("loaded")
        # Which process is updating what: a rank's pid, to find it in ps (or kill it, as the rank-kill test does).
        print(f"reasonloop_torch: rank {self.rank} (pid {os.getpid()}) updates step {step} of run {config['runId']}",
              flush=True)
        rows = json.loads(store.get_bytes(request["scoredKey"]))
        algo = config["algorithm"]
        rl_step = step - 1
        s = lr_schedule_of(config)
        ctx = UpdateContext(
            seed=config["seed"], step=rl_step, temperature=config["rollout"]["temperature"],
            lr=lr_at(rl_step, s["schedule"], s["lr"], s["warmup_steps"], s["total_steps"], s["min_lr_ratio"]),
            kl_coef=kl_coef_at(rl_step, algo["kl"]["schedule"], algo["kl"]["coef"], algo["kl"]["annealSteps"]),
            max_length=config["rollout"]["maxNewTokens"])
        records = update(warm.model, warm.optimizer, rows, UpdateSettings.from_algorithm(algo), ctx, torch.float32)
        on_progress("updated")
        # A LoRA run's adapters are small: gathered whole. Full weights are gathered a tensor at a time as
        # rank 0 writes them (every rank joins each gather), so no rank holds the whole state.
        state = gather_state(warm.model, warm.optimizer) if warm.lora else LiveState(warm.model, warm.optimizer)
        self.warm = Warm(request["configHash"], step, warm.model, warm.optimizer, warm.base_dir, warm.lora)
        objects = None
        if self.rank == 0:
            out = self.scratch / f"write-{step}-{time.monotonic_ns()}"
            files = (write_lora_state_dir(out, warm.lora, base_reference(config), state) if warm.lora
                     else write_state_dir(out, warm.base_dir, state))
            objects = []
            for f in files:
                name = f.relative_to(out).as_posix()
                stored = store.upload(checkpoint_key(config["runId"], step, name), f)
                objects.append({"name": name, "size": stored.size, "sha256": stored.sha256})
        elif not warm.lora:
            join_state_writes(state)
        del state
        dist.barrier()
        if self.rank != 0:
            return None
        return {"objects": objects, "metrics": {**reduce_metrics(records), "optimizerSteps": len(records)},
                "reloaded": reloaded, "seconds": time.perf_counter() - started}


def reduce_metrics(records: list[dict[str, float]]) -> dict[str, float]:
    """core/metrics/reduce.ts: max for names with "max", min for "min", the mean otherwise."""
    out: dict[str, float] = {}
    for name in dict.fromkeys(k for r in records for k in r):
        values = [r[name] for r in records if name in r]
        lower = name.lower()
        out[name] = max(values) if "max" in lower else min(values) if "min" in lower else sum(values) / len(values)
    return out
