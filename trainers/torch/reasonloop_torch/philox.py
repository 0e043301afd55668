"""Philox4x32-10 draws exactly as core/random.ts makes them: the mini-batch shuffle depends on them.

A draw is a pure function of (seed, step, prompt, sample, position, stream): key = (seed, stream),
counter = (position, sample, prompt, step); the first two output words give 53 bits (numpy's doubles).
"""

from __future__ import annotations

_M0 = 0xD2511F53
_M1 = 0xCD9E8D57
_W0 = 0x9E3779B9
_W1 = 0xBB67AE85
_MASK = 0xFFFFFFFF
ROUNDS = 10

#: Streams of core/random.ts RNG_STREAM.
STREAM_SAMPLING = 0
STREAM_SHUFFLE = 1


def philox4x32(counter: tuple[int, int, int, int], key: tuple[int, int]) -> tuple[int, int, int, int]:
    """The Philox4x32-10 block function: 4 counter words, 2 key words (uint32) → 4 random words."""
    c0, c1, c2, c3 = (c & _MASK for c in counter)
    k0, k1 = (k & _MASK for k in key)
    for _ in range(ROUNDS):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & _MASK, p1 & _MASK, ((p0 >> 32) ^ c3 ^ k1) & _MASK, p0 & _MASK
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


def _check_uint32(name: str, value: int) -> None:
    if not isinstance(value, int) or value < 0 or value >= 2**32:
        raise ValueError(f"rng: {name} must be an integer in [0, 2^32) (got {value})")


def uniform_at(seed: int, step: int, prompt: int, sample: int, position: int, stream: int = STREAM_SAMPLING) -> float:
    """A uniform float64 in [0, 1) for one coordinate, bit-identical to core/random.ts `uniformAt`."""
    for name, value in (("seed", seed), ("step", step), ("prompt", prompt), ("sample", sample),
                        ("position", position), ("stream", stream)):
        _check_uint32(name, value)
    w0, w1, _, _ = philox4x32((position, sample, prompt, step), (seed, stream))
    return ((w0 >> 5) * 67108864 + (w1 >> 6)) / 9007199254740992.0
