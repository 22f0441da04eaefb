"""Counting kernels of the log-bucket quantile sketch (:mod:`mcinfra.stats.sketch`).

A finite value x with |x| >= 2**-1022 falls in bucket ``bits(|x|) >> shift`` of its sign:
the biased exponent of |x| followed by the top ``52 - shift`` bits of its fraction. Within
an octave [2**e, 2**(e+1)) the buckets are equally wide, so none spans more than a factor
1 + 2**(shift - 52); no logarithm is needed, only one shift of the value's bits (the
"linearly interpolated" mapping of DDSketch, Masson, Rim and Lee, 2019, exact in binary).

Buckets are grouped in pages of PAGE counters: ``table[row, sign, page]`` holds the page's
row in the counter ``pool`` or -1. Each row and sign has its pages assigned over one range
of pages, widened as values beyond it arrive. Counts are integers, so sketches
merge exactly in any order and a run's sketch does not depend on how it was chunked.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from mcinfra.kernels.jit import helper, kernel
from mcinfra.kernels.special import FRACTION_MASK

# Special counters per row: -inf, zeros (|x| < 2**-1022), +inf, NaN.
NEG_INF, ZERO, POS_INF, NAN = 0, 1, 2, 3

_SIGN_SHIFT = np.uint64(63)
_MAGNITUDE_MASK = np.uint64((1 << 63) - 1)
_SMALLEST_BITS = np.int64(0x0010000000000000)  # 2**-1022
_LARGEST_BITS = np.int64(0x7FEFFFFFFFFFFFFF)  # largest finite double
_NO_MINIMUM = np.int64(0x7FF0000000000000)
PAGE_SHIFT = 9
PAGE = 1 << PAGE_SHIFT  # counters per page


@kernel(parallel=True)
def magnitude_ranges(bits, data_rows, extremes):
    """Per row, the bits of the smallest and largest positive and negative magnitude.

    ``bits`` is float64 viewed as uint64, of which rows ``data_rows`` are read; row ``r`` of
    ``extremes`` (len(data_rows), 4) int64 describes ``bits[data_rows[r]]`` and gets the
    bit patterns of (min positive, max positive, min |negative|, max |negative|) over
    finite values with magnitude >= 2**-1022; a side with none gets (-1 as max, huge as min).
    The bits of non-negative doubles order like their values, so integer minima suffice,
    and integer reductions vectorise where floating-point ones would not.
    """
    for r in prange(data_rows.shape[0]):
        low_pos, high_pos = _NO_MINIMUM, np.int64(-1)
        low_neg, high_neg = _NO_MINIMUM, np.int64(-1)
        row = bits[data_rows[r]]
        for i in range(bits.shape[1]):
            word = row[i]
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


@helper
def _count_other(word, shift, negative, low_neg, special):
    """Count a value outside the positive range: 1 if it needs pages not yet assigned."""
    magnitude = np.int64(word & _MAGNITUDE_MASK)
    if magnitude < _SMALLEST_BITS:
        special[ZERO] += 1
    elif magnitude > _LARGEST_BITS:
        if magnitude & np.int64(FRACTION_MASK):
            special[NAN] += 1
        elif word >> _SIGN_SHIFT:
            special[NEG_INF] += 1
        else:
            special[POS_INF] += 1
    else:
        offset = (magnitude >> shift) - low_neg
        if word >> _SIGN_SHIFT and 0 <= offset < negative.shape[0]:
            negative[offset] += 1
        else:
            return 1
    return 0


@helper
def _flush(counts, low, table, pool):
    """Add the dense counts of whole pages of buckets from ``low`` to the pool.

    Page by page, as additions of whole pool rows, which vectorise (a test and a branch per
    bucket took longer than the counting at 2,000-draw chunks).
    """
    first_page = low >> PAGE_SHIFT
    for p in range(counts.shape[0] >> PAGE_SHIFT):
        target = pool[table[first_page + p]]
        start = np.uintp(p << PAGE_SHIFT)
        for k in range(np.uintp(PAGE)):
            target[k] += counts[start + k]


@helper
def _count_row(bits, shift, hull, table, pool, special):
    """Count one row's values (see :func:`count_values`); returns how many were left pending."""
    ushift = np.uint64(shift)
    low_pos = hull[0, 0] << PAGE_SHIFT
    span_pos = max(np.int64(0), hull[0, 1] - hull[0, 0] + 1) << PAGE_SHIFT
    low_neg = hull[1, 0] << PAGE_SHIFT
    span_neg = max(np.int64(0), hull[1, 1] - hull[1, 0] + 1) << PAGE_SHIFT
    positive = np.zeros(span_pos, dtype=np.int64)
    negative = np.zeros(span_neg, dtype=np.int64)
    base = np.uint64(low_pos)
    uspan = np.uint64(span_pos)
    others = 0
    for i in range(bits.shape[0]):
        # unsigned offset: values below the range wrap around to huge and fail the test
        offset = (bits[i] >> ushift) - base
        if offset < uspan:
            positive[offset] += 1
        else:
            others += 1
    late = 0
    if others:  # a second pass for them: a call in the loop above would slow it severalfold
        for i in range(bits.shape[0]):
            word = bits[i]
            if not (word >> ushift) - base < uspan:
                late += _count_other(word, shift, negative, low_neg, special)
    _flush(positive, low_pos, table[0], pool)
    _flush(negative, low_neg, table[1], pool)
    return late


@kernel(parallel=True)
def count_values(bits, data_rows, shift, hull, table, pool, special, pending):
    """Add the values of rows ``data_rows`` of ``bits`` (float64 viewed as uint64) to counters.

    Sketch row ``r`` counts data row ``data_rows[r]``.
    ``hull`` (rows, 2, 2) holds each row's assigned pages per sign as a range [first,
    last] (empty when last < first); ``table`` is (rows, 2, pages). Values whose pages lie
    outside the range are not counted: ``pending[row]`` gets their number, for
    :func:`count_new_pages` once their pages exist. Each row counts into dense local
    arrays spanning its ranges, one increment per value, then adds them to its pages; rows
    own disjoint pages, so they run in parallel without races. Values outside the positive
    range (negatives, zeros, non-finite values) are counted in a second pass, which rows of
    positive values never need.
    """
    for r in prange(data_rows.shape[0]):
        pending[r] = _count_row(bits[data_rows[r]], shift, hull[r], table[r], pool, special[r])


@kernel(parallel=True)
def count_ratios(values, top, bottom, shift, hull, table, pool, special, pending):
    """As :func:`count_values`, for rows ``values[top[r]] / values[bottom[r]]``.

    The ratios are formed row by row in a buffer that stays in cache, rather than written
    out for a second pass; IEEE division rounds as numpy's does, so the counts are the same.
    """
    n = values.shape[1]
    for r in prange(top.shape[0]):
        ratio = np.empty(n)
        numerator = values[top[r]]
        denominator = values[bottom[r]]
        for i in range(n):
            ratio[i] = numerator[i] / denominator[i]
        pending[r] = _count_row(ratio.view(np.uint64), shift, hull[r], table[r], pool, special[r])


@kernel(parallel=True)
def count_new_pages(bits, data_rows, shift, old_hull, table, pool):
    """Count the values of rows ``bits[data_rows]`` whose pages lie outside ``old_hull``.

    ``old_hull`` is (len(data_rows), 2, 2); only finite values are counted. The second
    step for the values :func:`count_values` left pending, once :func:`assign_pages` has
    given their pages pool rows.
    """
    for r in prange(data_rows.shape[0]):
        row = bits[data_rows[r]]
        for i in range(bits.shape[1]):
            word = row[i]
            magnitude = np.int64(word & _MAGNITUDE_MASK)
            if _SMALLEST_BITS <= magnitude <= _LARGEST_BITS:
                sign = np.intp(word >> _SIGN_SHIFT)
                bucket = magnitude >> shift
                page = bucket >> PAGE_SHIFT
                if not old_hull[r, sign, 0] <= page <= old_hull[r, sign, 1]:
                    pool[table[r, sign, page], bucket & (PAGE - 1)] += 1
