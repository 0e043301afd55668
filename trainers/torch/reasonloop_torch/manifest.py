"""Checkpoint keys and manifests as core/store writes them (keys.ts, manifest.ts): `runs/<runId>/steps/
<000012>/<name>`, the manifest listing every object's size and sha256 and signed with the sha256 of its
canonical JSON (keys sorted, no whitespace, numbers as JavaScript prints them)."""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal
from typing import Any

MANIFEST_FORMAT = "reasonloop.checkpoint/1"
STEP_DIGITS = 6


def checkpoint_key(run_id: str, step: int, name: str) -> str:
    return f"runs/{run_id}/steps/{str(step).zfill(STEP_DIGITS)}/{name}"


def manifest_key(run_id: str, step: int) -> str:
    return checkpoint_key(run_id, step, "manifest.json")


def js_number(x: float | int) -> str:
    """A number as JavaScript's JSON.stringify writes it: the shortest digits that round-trip (Python's
    repr finds the same ones), placed by ECMAScript's Number::toString rules (exponent from 1e21 up and
    below 1e-6, where Python switches at other points)."""
    if isinstance(x, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        raise ValueError(f"{x} is not a finite number for JSON")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    d = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(str(t) for t in d.digits)
    k = len(digits)
    n = k + int(d.exponent)  # the value is 0.digits × 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return sign + head + "e" + ("+" if e > 0 else "-") + str(abs(e))


def canonical_json(value: Any) -> str:
    """core/store/manifest.ts canonicalJson: sorted keys, no whitespace, equal values give equal bytes."""
    if value is None or isinstance(value, bool) or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)):
        return js_number(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{canonical_json(v)}" for k, v in items) + "}"
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def manifest_problem(raw: bytes, run_id: str, step: int) -> tuple[dict[str, Any] | None, str | None]:
    """The manifest, or why it is not valid: format, its own checksum, where it was found."""
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"manifest is not valid UTF-8 JSON ({e})"
    if manifest.get("format") != MANIFEST_FORMAT:
        return None, f"manifest format is {manifest.get('format')!r}, expected {MANIFEST_FORMAT}"
    body = {k: v for k, v in manifest.items() if k != "manifestSha256"}
    actual = hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
    if actual != manifest.get("manifestSha256"):
        return None, f"manifest checksum is {actual}, the manifest says {manifest.get('manifestSha256')}"
    if manifest.get("runId") != run_id or manifest.get("step") != step:
        return None, f"manifest is for run {manifest.get('runId')} step {manifest.get('step')}, found under run {run_id} step {step}"
    return manifest, None
