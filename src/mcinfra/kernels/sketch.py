"""Counting kernels of the log-bucket quantile sketch (:mod:`mcinfra.stats.sketch`).

A finite value x with |x| >= 2**-1022 falls in bucket ``floor((e + f(s)) * MULTIPLIER)``
of its sign, where |x| = 2**e (1 + s), s in [0, 1), and f is a monotone cubic close to
log2(1 + s) with f(0) = 0 and f(1) = 1 (the "cubically interpolated" mapping of DDSketch,
Masson, Rim and Lee, 2019). It needs no logarithm, only the bits of x, so it vectorises.
MULTIPLIER is chosen so that every bucket's upper edge is at most gamma times its lower
edge; :mod:`mcinfra.stats.sketch` derives it from the relative accuracy.

Buckets are grouped in pages of PAGE counters allocated on first use: ``table[row, sign,
page]`` holds the page's row in the counter ``pool`` or -1. Counts are integers, so sketches
merge exactly in any order and a run's sketch does not depend on how it was chunked.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from mcinfra.kernels.jit import inline, kernel

CUBIC_A = 6.0 / 35.0
CUBIC_B = -3.0 / 5.0
CUBIC_C = 10.0 / 7.0
# Special counters per row: values below every bucket, zeros (|x| < 2**-1022), above, NaN.
NEG_INF, ZERO, POS_INF, NAN = 0, 1, 2, 3

_ONE_BITS = np.uint64(0x3FF0000000000000)
_FRACTION_MASK = np.uint64((1 << 52) - 1)
_SIGN_SHIFT = np.uint64(63)
_EXPONENT_SHIFT = np.uint64(52)
_EXPONENT_MASK = np.uint64(0x7FF)
_MAGNITUDE_MASK = np.uint64((1 << 63) - 1)
_SMALLEST_BITS = np.int64(0x0010000000000000)  # 2**-1022
_LARGEST_BITS = np.int64(0x7FEFFFFFFFFFFFFF)  # largest finite double
_NO_MINIMUM = np.int64(0x7FF0000000000000)
PAGE_SHIFT = 9
PAGE = 1 << PAGE_SHIFT  # counters per page
_BATCH = 256
_NON_FINITE = -1000


@inline
def _position(exponent, one_plus_s, multiplier):
    """Unfloored bucket position of |x| = 2**(exponent - 1023) * one_plus_s."""
    s = one_plus_s - 1.0
    # int32 to float64 then subtract: a 64-bit integer conversion would not vectorise
    return (
        np.float64(exponent) - 1023.0 + ((CUBIC_A * s + CUBIC_B) * s + CUBIC_C) * s
    ) * multiplier


@kernel
def bucket_of(magnitude, multiplier, offset):
    """Bucket of a finite magnitude >= 2**-1022 (scalar; used to find pages)."""
    exponent = 0
    while magnitude >= 2.0:
        magnitude *= 0.5
        exponent += 1
    while magnitude < 1.0:
        magnitude *= 2.0
        exponent -= 1
    return np.int64(np.floor(_position(exponent + 1023, magnitude, multiplier))) + offset


@kernel(parallel=True)
def magnitude_ranges(bits, extremes):
    """Per row, the bits of the smallest and largest positive and negative magnitude.

    ``bits`` (rows, n) is float64 viewed as uint64. ``extremes`` (rows, 4) int64 gets the
    bit patterns of (min positive, max positive, min |negative|, max |negative|) over
    finite values with magnitude >= 2**-1022; a side with none gets (-1 as max, huge as min).
    The bits of non-negative doubles order like their values, so integer minima suffice,
    and integer reductions vectorise where floating-point ones would not.
    """
    for r in prange(bits.shape[0]):
        low_pos, high_pos = _NO_MINIMUM, np.int64(-1)
        low_neg, high_neg = _NO_MINIMUM, np.int64(-1)
        for i in range(bits.shape[1]):
            word = bits[r, i]
            magnitude = np.int64(word & _MAGNITUDE_MASK)
            usable = _SMALLEST_BITS <= magnitude <= _LARGEST_BITS
            negative = (word >> _SIGN_SHIFT) != 0
            pos = usable and not negative
            neg = usable and negative
            low_pos = min(low_pos, magnitude if pos else _NO_MINIMUM)
            high_pos = max(high_pos, magnitude if pos else np.int64(-1))
            low_neg = min(low_neg, magnitude if neg else _NO_MINIMUM)
            high_neg = max(high_neg, magnitude if neg else np.int64(-1))
        extremes[r, 0] = low_pos
        extremes[r, 1] = high_pos
        extremes[r, 2] = low_neg
        extremes[r, 3] = high_neg


@kernel
def assign_pages(table, low, high, used):
    """Give every page in the ranges [low, high] a pool row; returns the pool rows used."""
    for r in range(table.shape[0]):
        for sign in range(2):
            for page in range(low[r, sign], high[r, sign] + 1):
                if table[r, sign, page] < 0:
                    table[r, sign, page] = used
                    used += 1
    return used


@kernel(parallel=True)
def count_values(bits, multiplier, offset, table, pool, special):
    """Add the values of each row of ``bits`` (float64 viewed as uint64) to its counters.

    ``table`` is viewed as (rows, 2 * pages): positive pages, then negative ones. Every page
    a value needs must already be assigned (:func:`magnitude_ranges`, :func:`assign_pages`).
    Rows own disjoint pages, so rows run in parallel without races. Values are mapped in
    batches by loops that vectorise (1 + s is rebuilt by bit operations and read back
    through a float view, avoiding 64-bit integer conversions; zeros and non-finite values
    get negative codes by selects); the increments follow in a scalar loop.
    """
    sign_stride = np.int32((table.shape[1] // 2) * PAGE)
    for r in prange(bits.shape[0]):
        mantissa = np.empty(_BATCH, dtype=np.uint64)
        one_plus_s = mantissa.view(np.float64)
        exponent = np.empty(_BATCH, dtype=np.int32)
        negative = np.empty(_BATCH, dtype=np.int32)
        code = np.empty(_BATCH, dtype=np.int32)
        for start in range(0, bits.shape[1], _BATCH):
            m = min(_BATCH, bits.shape[1] - start)
            base = np.uintp(start)  # unsigned: no wrap-around check per access (see model.py)
            for i in range(m):
                word = bits[r, base + np.uintp(i)]
                mantissa[i] = (word & _FRACTION_MASK) | _ONE_BITS
                exponent[i] = np.int32((word >> _EXPONENT_SHIFT) & _EXPONENT_MASK)
                negative[i] = np.int32(word >> _SIGN_SHIFT)
            for i in range(m):
                e = exponent[i]
                position = _position(e, one_plus_s[i], multiplier)
                c = np.int32(np.floor(position)) + offset + negative[i] * sign_stride
                c = np.int32(-1 - ZERO) if e == 0 else c
                code[i] = np.int32(_NON_FINITE) if e == 0x7FF else c
            for i in range(m):
                c = code[i]
                if c >= 0:
                    pool[table[r, c >> PAGE_SHIFT], c & (PAGE - 1)] += 1
                elif c == _NON_FINITE:
                    word = bits[r, base + np.uintp(i)]
                    if word & _FRACTION_MASK:
                        special[r, NAN] += 1
                    elif word >> _SIGN_SHIFT:
                        special[r, NEG_INF] += 1
                    else:
                        special[r, POS_INF] += 1
                else:
                    special[r, -1 - c] += 1
