"""The run config as the TypeScript workers see it, for the fields the trainer reads: the raw JSON the
workflow passes, with core/config's defaults filled in (run_defaults.json, generated from the zod schemas
and checked against them by test/unit/config/torchDefaults.test.ts), and the options this trainer cannot
honour refused by name."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

DEFAULTS = json.loads((Path(__file__).parent / "run_defaults.json").read_text())


def _merge(defaults: Any, raw: Any) -> Any:
    if isinstance(defaults, dict) and isinstance(raw, dict):
        out = copy.deepcopy(defaults)
        for k, v in raw.items():
            out[k] = _merge(defaults.get(k), v) if k in defaults else copy.deepcopy(v)
        return out
    return copy.deepcopy(raw)


def with_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """`algorithm` and `rollout` with every default filled, the rest as given."""
    out = dict(raw)
    out["algorithm"] = _merge(DEFAULTS["algorithm"], raw.get("algorithm", {}))
    out["rollout"] = _merge(DEFAULTS["rollout"], raw.get("rollout", {}))
    return out


def unsupported_options(config: dict[str, Any]) -> list[str]:
    """Run-config fields the torch trainer does not implement, by path (empty: it honours the config)."""
    out = []
    if config["algorithm"].get("lora") is not None and config.get("model", {}).get("init") is not None:
        out.append("algorithm.lora with model.init (a LoRA run's frozen base must come from model.dir or "
                   "model.checkpoint: the torch trainer cannot rebuild the TypeScript side's seeded initial weights)")
    return out


def mixed_precision_of(config: dict[str, Any]) -> str | None:
    """orchestration.trainer.mixedPrecision ("bf16"), or None: the model computes in float32."""
    return config.get("orchestration", {}).get("trainer", {}).get("mixedPrecision")


def lr_schedule_of(config: dict[str, Any]) -> dict[str, Any]:
    """activities/updatePolicy.ts lrScheduleOf: the cosine ends at decaySteps, else at the run's steps."""
    o = config["algorithm"]["optimizer"]
    total = o.get("decaySteps") or config["steps"]
    return {"schedule": o["schedule"], "lr": o["lr"], "warmup_steps": o["warmupSteps"], "total_steps": total,
            "min_lr_ratio": o["minLrRatio"]}
