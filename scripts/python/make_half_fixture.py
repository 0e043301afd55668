"""Builds test/fixtures/halfPrecision/rounding.safetensors: float32 values and what torch makes of them.

Tensors (same length): "f32" the inputs, "bf16" = f32.to(torch.bfloat16), "f16" = f32.to(torch.float16),
both converted by torch on the CPU (round to nearest, ties to even). The inputs are hand-picked edge
cases (signed zeros, infinities, a quiet NaN, ties at both precisions, overflow to inf, subnormals of
both half formats, the float32 extremes) plus seeded random bit patterns over every exponent and seeded
normal values at several scales. core/model/halfPrecision.ts must reproduce both outputs bit for bit
(test/unit/model/halfPrecision.test.ts).

Usage (repo root): python scripts/python/make_half_fixture.py
Needs: pip install torch safetensors   (never a runtime dependency of reasonloop)
"""

from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "halfPrecision"

EDGE_BITS = [
    0x00000000, 0x80000000,  # +0, -0
    0x7F800000, 0xFF800000,  # +inf, -inf
    0x7FC00000,  # a quiet NaN (torch's CPU cast writes every NaN as bf16 0xFFFF, f16 0x7E00)
    0x7F7FFFFF, 0xFF7FFFFF,  # float32 max: bf16 rounds it to inf
    0x7F7F7FFF, 0x7F7F8000, 0x7F7E8000,  # just below / at a bf16 tie near the top
    0x00800000, 0x00000001, 0x007FFFFF,  # min normal, min subnormal, max subnormal of float32
    0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF,  # bf16 ties to even (down, up), just above/below
    0xBF808000, 0xBF818000,  # negative ties
]
EDGE_VALUES = [
    1.0, -1.0, 65504.0, 65519.0, 65520.0, -65520.0,  # f16 max, last value rounding to it, first to inf
    2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26, 2.0 ** -26, 1e-8,  # f16 normal/subnormal ties and underflow
    1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 1.0 + 2.0 ** -11 + 2.0 ** -20,  # f16 ties and just above
    1e-7, 3.14159265, -2.71828182, 1e30, -1e-30,
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    edge = torch.tensor(EDGE_BITS, dtype=torch.int64).to(torch.int32).view(torch.float32)
    values = torch.tensor(EDGE_VALUES, dtype=torch.float32)
    gen = torch.Generator().manual_seed(20260)
    bits = torch.randint(0, 2**32, (8192,), generator=gen, dtype=torch.int64).to(torch.int32).view(torch.float32)
    bits = bits[~torch.isnan(bits)]  # NaN payloads: torch's vector and scalar paths may differ; one canonical NaN above
    scales = torch.tensor([1e-6, 1e-3, 0.02, 1.0, 30.0, 6e4]).repeat_interleave(1024)
    normal = torch.randn(scales.numel(), generator=gen) * scales
    f32 = torch.cat([edge, values, bits, normal]).contiguous()
    tensors = {"f32": f32, "bf16": f32.to(torch.bfloat16), "f16": f32.to(torch.float16)}
    save_file(tensors, str(OUT / "rounding.safetensors"), metadata={"format": "pt", "torch": torch.__version__})
    print(f"wrote {f32.numel()} values, torch {torch.__version__}")


if __name__ == "__main__":
    main()
