"""Per-draw random streams: SplitMix64 seeding, xoshiro256++ and a ziggurat normal.

Draw ``d`` of a run with seed key ``k`` owns a private xoshiro256++ stream whose 256-bit
state is four consecutive SplitMix64 outputs at counter positions ``4 d + 1 .. 4 d + 4``
(a counter-based construction: SplitMix64's finaliser is a bijection of the counter).
A draw's numbers therefore depend only on ``(seed, d)``: results are bit-identical for any
thread count, chunk size, split across machines or resume point.

Standard normals come from a 256-layer ziggurat (Marsaglia and Tsang, 2000) built from
one 64-bit word per normal in 99 % of calls.
"""

from __future__ import annotations

import math

import numpy as np

from mcinfra.kernels.jit import helper, inline, kernel
from mcinfra.kernels.special import ONE_BITS

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_U4 = np.uint64(4)
_U1 = np.uint64(1)
_MASK_LAYER = np.uint64(0xFF)

ZIGGURAT_LAYERS = 256
# Right edge of the base layer, solved so the 256 equal-area layers close exactly at the mode.
ZIGGURAT_R = 3.654152885361009


def _ziggurat_tables(n: int = ZIGGURAT_LAYERS, r: float = ZIGGURAT_R):
    """Build the ziggurat tables for the unnormalised density exp(-x^2/2).

    Returns ``accept`` (int64 thresholds on a 52-bit magnitude), ``width`` (scale of that
    magnitude per layer) and ``height`` (density at each layer's right edge).
    """
    area = r * math.exp(-0.5 * r * r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    edges = np.empty(n + 1)
    edges[0] = area / math.exp(-0.5 * r * r)  # virtual width of the base layer (with tail)
    edges[1] = r
    for i in range(1, n - 1):
        edges[i + 1] = math.sqrt(-2.0 * math.log(math.exp(-0.5 * edges[i] ** 2) + area / edges[i]))
    edges[n] = 0.0
    scale = 2.0**52
    accept = np.array([int(scale * edges[i + 1] / edges[i]) for i in range(n)], dtype=np.int64)
    width = edges[:n] / scale
    height = np.exp(-0.5 * edges**2)
    return accept, width, height


_ZIG_ACCEPT, _ZIG_WIDTH, _ZIG_HEIGHT = _ziggurat_tables()


def seed_key(seed: int) -> np.uint64:
    """Map a user seed (any integer in [0, 2**64)) to the 64-bit key of its streams."""
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return np.uint64(_mix64_py(int(seed) ^ 0x5851F42D4C957F2D))


def _mix64_py(x: int) -> int:
    """SplitMix64 finaliser in Python integers (used once per run for the key)."""
    mask = 2**64 - 1
    x &= mask
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    return x ^ (x >> 31)


@inline
def _mix64(x):
    x = (x ^ (x >> np.uint64(30))) * _MIX_1
    x = (x ^ (x >> np.uint64(27))) * _MIX_2
    return x ^ (x >> np.uint64(31))


@inline
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@inline
def seed_draw(key, draw):
    """xoshiro256++ state (a 4-tuple of uint64) of draw ``draw`` of the run keyed ``key``.

    The state is a tuple, not an array, so the compiler keeps it in registers.
    """
    base = np.uint64(draw) * _U4
    return (
        _mix64(key + (base + np.uint64(1)) * _GOLDEN_GAMMA),
        _mix64(key + (base + np.uint64(2)) * _GOLDEN_GAMMA),
        _mix64(key + (base + np.uint64(3)) * _GOLDEN_GAMMA),
        _mix64(key + (base + np.uint64(4)) * _GOLDEN_GAMMA),
    )


@inline
def next_u64(state):
    """Next 64-bit word of a xoshiro256++ stream: returns ``(word, new_state)``."""
    s0, s1, s2, s3 = state
    result = _rotl(s0 + s3, 23) + s0
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, (s0, s1, s2, s3)


@inline
def next_double(state):
    """Uniform double in [0, 1) with 53 random bits: returns ``(u, new_state)``."""
    word, state = next_u64(state)
    # Through int64: converting an unsigned 64-bit integer to float is several times slower.
    return np.float64(np.int64(word >> np.uint64(11))) * (1.0 / 9007199254740992.0), state


@inline
def next_normal(state):
    """Standard normal by the ziggurat method: returns ``(z, new_state)``.

    The fast path (99 % of calls, one word) is inlined; the rest is out of line.
    """
    word, state = next_u64(state)
    layer = np.intp(word & _MASK_LAYER)
    magnitude = np.int64(word >> np.uint64(12))
    if magnitude < _ZIG_ACCEPT[layer]:
        sign = 1.0 - 2.0 * np.float64(np.int64((word >> np.uint64(8)) & _U1))
        return sign * (np.float64(magnitude) * _ZIG_WIDTH[layer]), state
    return _normal_slow_path(state, word)


@helper
def _normal_slow_path(state, word):
    """Finish a ziggurat draw whose first word fell outside the layer's safe rectangle."""
    while True:
        layer = np.intp(word & _MASK_LAYER)
        magnitude = np.int64(word >> np.uint64(12))
        sign = 1.0 - 2.0 * np.float64(np.int64((word >> np.uint64(8)) & _U1))
        x = np.float64(magnitude) * _ZIG_WIDTH[layer]
        if magnitude < _ZIG_ACCEPT[layer]:
            return sign * x, state
        if layer == 0:
            # Tail beyond r (Marsaglia 1964): exact, accepted with probability > 0.9.
            while True:
                u1, state = next_double(state)
                u2, state = next_double(state)
                xx = -math.log1p(-u1) / ZIGGURAT_R
                yy = -math.log1p(-u2)
                if yy + yy > xx * xx:
                    return sign * (ZIGGURAT_R + xx), state
        lower = _ZIG_HEIGHT[layer]
        upper = _ZIG_HEIGHT[layer + 1]
        u, state = next_double(state)
        if lower + u * (upper - lower) < math.exp(-0.5 * x * x):
            return sign * x, state
        word, state = next_u64(state)


_U8 = np.uint64(8)
_U12 = np.uint64(12)
_U63 = np.uint64(63)
# Layer widths times 2**52: (bits of 1 + m 2**-52, less 1) * 2**52 w is m * w exactly.
_ZIG_WIDTH_52 = _ZIG_WIDTH * 2.0**52


@inline
def _misses_fast_path(word):
    """Whether a ziggurat word falls outside its layer's safe rectangle (about 1 %).

    The layer indexes unsigned, as the model's draw loops do (:mod:`mcinfra.kernels.model`):
    a signed index costs a wrap-around check per access.
    """
    return np.int64(word >> _U12) >= _ZIG_ACCEPT[np.uintp(word & _MASK_LAYER)]


@helper
def fill_block_normals(key, first_draw, nb, normals, lanes):
    """``normals[j, b]`` = normal j of draw ``first_draw + b``, for b < nb, lanes in step.

    Bit-identical to :func:`next_normal` called draw by draw, but the streams of the nb
    draws advance together, one normal at a time, in loops over draws that vectorise
    (faster in the sampler than draw by draw). The states live in ``lanes`` (5, >= nb)
    uint64: four state words and each lane's last word. The ziggurat's fast path runs on
    every lane without branches; its magnitude goes to float through the bits of
    1 + m 2**-52, since int64-to-float conversion does not vectorise. The rare lanes that
    miss it finish in a scalar loop from the same state, before their next normal.
    """
    s0, s1, s2, s3, last = lanes[0], lanes[1], lanes[2], lanes[3], lanes[4]
    for b in range(nb):
        s0[b], s1[b], s2[b], s3[b] = seed_draw(key, first_draw + b)
    for j in range(normals.shape[0]):
        for b in range(nb):
            word, (s0[b], s1[b], s2[b], s3[b]) = next_u64((s0[b], s1[b], s2[b], s3[b]))
            last[b] = word
        row = normals[j]
        misses = 0
        for b in range(nb):
            word = last[b]
            layer = np.uintp(word & _MASK_LAYER)
            misses += np.int64(_misses_fast_path(word))
            one_plus = np.uint64((word >> _U12) | ONE_BITS).view(np.float64)
            x = (one_plus - 1.0) * _ZIG_WIDTH_52[layer]
            sign = ((word >> _U8) & _U1) << _U63
            row[b] = np.uint64(np.float64(x).view(np.uint64) ^ sign).view(np.float64)
        if misses:
            for b in range(nb):
                word = last[b]
                if _misses_fast_path(word):
                    z, (s0[b], s1[b], s2[b], s3[b]) = _normal_slow_path(
                        (s0[b], s1[b], s2[b], s3[b]), word
                    )
                    row[b] = z


@kernel
def fill_normals(key, draw_start, out):
    """Fill ``out`` (n_draws, m) with the first m normals of draws draw_start.. ."""
    for i in range(out.shape[0]):
        state = seed_draw(key, draw_start + i)
        for j in range(out.shape[1]):
            z, state = next_normal(state)
            out[i, j] = z


@kernel
def fill_uniforms(key, draw_start, out):
    """Fill ``out`` (n_draws, m) with the first m uniform doubles of draws draw_start.. ."""
    for i in range(out.shape[0]):
        state = seed_draw(key, draw_start + i)
        for j in range(out.shape[1]):
            u, state = next_double(state)
            out[i, j] = u
