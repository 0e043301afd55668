"""updatePolicy on every rank (activities/updatePolicy.ts): the state of step − 1 kept in memory between
steps, or reloaded from that step's verified checkpoint (every object's sha256 checked as it downloads);
the scored rows read by key; the update under FSDP2; the new weights and optimizer state written by rank 0
under the step's checkpoint prefix, each object's size and sha256 returned for the manifest."""

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

from .manifest import checkpoint_key, manifest_key, manifest_problem
from .model import build_qwen2
from .policy_update import UpdateContext, UpdateSettings, make_optimizer, update
from .run_config import lr_schedule_of, unsupported_options, with_defaults
from .schedules import kl_coef_at, lr_at
from .sharding import shard_model
from .state_files import WEIGHTS_GROUP, read_state_dir, write_state_dir
from .store import ObjectStore, open_store
from .trainer_state import gather_state, load_state


class PermanentError(Exception):
    """A failure a retry cannot fix (bad config, a checkpoint that does not verify): non-retryable."""


@dataclass
class Warm:
    config_hash: str
    step: int
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    #: The previous checkpoint's weights folder: config.json, tokenizer and generation files to carry over.
    base_dir: Path


class Trainer:
    def __init__(self, rank: int, device_type: str = "cpu") -> None:
        self.rank = rank
        self.device_type = device_type
        self.warm: Warm | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix="reasonloop-torch-"))

    def _restore(self, store: ObjectStore, run_id: str, step: int, target: Path) -> None:
        """Downloads the verified checkpoint `step` (weights/ and optimizer/) into `target`."""
        try:
            raw = store.get_bytes(manifest_key(run_id, step))
        except Exception as e:  # noqa: BLE001 - the store's own error names the key
            raise RuntimeError(f"{store.location}: checkpoint {step} of run {run_id}: {e}") from e
        manifest, problem = manifest_problem(raw, run_id, step)
        if problem:
            raise PermanentError(f"checkpoint {step} of run {run_id} in {store.location}: {problem}")
        assert manifest is not None
        for obj in manifest["objects"]:
            if not obj["name"].startswith(("weights/", "optimizer/")):
                continue
            got = store.download(checkpoint_key(run_id, step, obj["name"]), target / obj["name"])
            if got.sha256 != obj["sha256"] or got.size != obj["size"]:
                raise RuntimeError(f"{store.location}: {obj['name']} of checkpoint {step} has sha256 {got.sha256} "
                                   f"({got.size} bytes), the manifest says {obj['sha256']} ({obj['size']} bytes)")

    def _state_at(self, store: ObjectStore, config: dict[str, Any], config_hash: str, step: int) -> tuple[Warm, bool]:
        if self.warm and self.warm.config_hash == config_hash and self.warm.step == step:
            return self.warm, False
        self.warm = None
        folder = self.scratch / f"restore-{step}-{time.monotonic_ns()}"
        self._restore(store, config["runId"], step, folder)
        state = read_state_dir(folder)
        model = shard_model(build_qwen2(folder / WEIGHTS_GROUP / "config.json", torch.float32), self.device_type)
        if config["algorithm"].get("gradientCheckpointing"):
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        optimizer = make_optimizer(model, config["algorithm"]["optimizer"])
        load_state(model, optimizer, state)
        return Warm(config_hash, step, model, optimizer, folder / WEIGHTS_GROUP), True

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
        full = gather_state(warm.model, warm.optimizer)
        self.warm = Warm(request["configHash"], step, warm.model, warm.optimizer, warm.base_dir)
        objects = None
        if self.rank == 0:
            out = self.scratch / f"write-{step}-{time.monotonic_ns()}"
            files = write_state_dir(out, warm.base_dir, full)
            objects = []
            for f in files:
                name = f.relative_to(out).as_posix()
                stored = store.upload(checkpoint_key(config["runId"], step, name), f)
                objects.append({"name": name, "size": stored.size, "sha256": stored.sha256})
        del full
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
