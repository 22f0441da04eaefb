"""Exact order statistics of rows of a (row, draw) array, one row per (series, year)."""

from __future__ import annotations

import numpy as np
from numba import prange

from mcinfra.kernels.growth import compound_growth
from mcinfra.kernels.jit import helper, inline, kernel

_BUCKETS = 4096
GAP_BLOCK = 1024  # draws per task of partition_gap


@inline
def _bucket(value, low, scale):
    """Bucket of ``value`` in [0, _BUCKETS), clamped at both ends (rounding can overshoot)."""
    position = (value - low) * scale
    if position >= _BUCKETS - 1:
        return _BUCKETS - 1
    if position > 0.0:
        return np.int64(position)
    return 0


@inline
def _value_range(column):
    """``(min, max)`` of a non-empty ``column``; ``(nan, nan)`` when it holds a NaN.

    Written out rather than ``column.min()``: a cached kernel calling numba's array
    reductions imports their module (with numba's linear algebra) each time it is loaded.
    """
    low = column[0]
    high = column[0]
    for i in range(column.shape[0]):
        value = column[i]
        if value != value:
            return value, value
        if value < low:
            low = value
        elif value > high:
            high = value
    return low, high


@inline
def _bucket_of_rank(counts, rank):
    """The bucket ``b`` holding ``rank``: the last ``b`` with ``counts[b] <= rank``.

    ``counts`` is non-decreasing with ``counts[0] = 0 <= rank``; a binary search, the same
    as ``np.searchsorted(counts, rank, side="right") - 1``.
    """
    low = 0  # counts[low] <= rank
    high = counts.shape[0]  # counts[high] > rank, or past the end
    while high - low > 1:
        middle = (low + high) // 2
        if counts[middle] <= rank:
            low = middle
        else:
            high = middle
    return low


@helper
def select_ranks(column, ranks, out):
    """Write the order statistics ``sorted(column)[ranks]`` into ``out`` (exact).

    Counting select: one pass counts values into equal-width buckets between the minimum
    and maximum, a second gathers only the buckets that hold the wanted ranks, which are
    then sorted. Two linear passes instead of a full sort of the column.
    """
    n = column.shape[0]
    if n == 0:  # no draws: no order statistics
        for j in range(ranks.shape[0]):
            out[j] = np.nan
        return
    low, high = _value_range(column)
    scale = _BUCKETS / (high - low) if high > low else 0.0
    # Sort outright when bucketing is impossible: non-finite values, a constant column, or
    # a range so narrow (subnormal) that the bucket scale overflows.
    if not (np.isfinite(low) and np.isfinite(high) and np.isfinite(scale) and scale > 0.0):
        ordered = column.copy()
        ordered.sort()
        for j in range(ranks.shape[0]):
            out[j] = ordered[ranks[j]]
        return
    counts = np.zeros(_BUCKETS + 1, dtype=np.int64)
    for i in range(n):
        counts[_bucket(column[i], low, scale) + 1] += 1
    for b in range(_BUCKETS):
        counts[b + 1] += counts[b]  # counts[b] = number of values in buckets below b
    wanted = np.zeros(_BUCKETS, dtype=np.bool_)
    for j in range(ranks.shape[0]):
        wanted[_bucket_of_rank(counts, ranks[j])] = True
    offset = np.zeros(_BUCKETS, dtype=np.int64)  # start of each wanted bucket in the buffer
    size = 0
    for b in range(_BUCKETS):
        if wanted[b]:
            offset[b] = size
            size += counts[b + 1] - counts[b]
    buffer = np.empty(size)
    filled = offset.copy()
    for i in range(n):
        b = _bucket(column[i], low, scale)
        if wanted[b]:
            buffer[filled[b]] = column[i]
            filled[b] += 1
    for b in range(_BUCKETS):
        if wanted[b]:
            # In place: a slice assignment compiles numba's shape-mismatch message code.
            buffer[offset[b] : filled[b]].sort()
    for j in range(ranks.shape[0]):
        b = _bucket_of_rank(counts, ranks[j])
        out[j] = buffer[offset[b] + ranks[j] - counts[b]]


@helper
def _lerp(a, b, t):
    """Linear interpolation exactly as numpy.quantile computes it (from the nearer end)."""
    if a == b:
        return a
    if t >= 0.5:
        return b - (b - a) * (1.0 - t)
    return a + (b - a) * t


@kernel(parallel=True)
def growth_quantiles(data, end_rows, start_rows, power, probs, out):
    """Quantiles over draws, per column c, of ``(data[end] / data[start]) ** power - 1``.

    ``power = 0`` selects the plain values ``data[end_rows[c]]`` instead; ``power =
    1 / years`` gives a realised CAGR (by :func:`mcinfra.kernels.growth.compound_growth`,
    as everywhere). Quantiles use numpy's default ("linear") definition:
    with h = (n - 1) p, x(floor h) + (h - floor h) (x(floor h + 1) - x(floor h)) over the
    sorted values x. Results go to ``out`` (C, P).
    """
    n = data.shape[1]
    ranks = np.empty(2 * probs.shape[0], dtype=np.int64)
    for j in range(probs.shape[0]):
        low = np.int64(np.floor((n - 1) * probs[j]))
        ranks[2 * j] = low
        ranks[2 * j + 1] = min(low + 1, n - 1)
    for c in prange(end_rows.shape[0]):
        column = np.empty(n)
        end = end_rows[c]
        start = start_rows[c]
        if power == 0.0:
            for i in range(n):
                column[i] = data[end, i]
        else:
            for i in range(n):
                column[i] = compound_growth(data[end, i] / data[start, i], power)
        picked = np.empty(ranks.shape[0])
        select_ranks(column, ranks, picked)
        for j in range(probs.shape[0]):
            out[c, j] = _lerp(picked[2 * j], picked[2 * j + 1], (n - 1) * probs[j] - ranks[2 * j])


@inline
def sum_rows(n, members, t, values, first, acc):
    """``acc[:n]`` = the sum of rows ``members`` of the draw-last ``values`` in year ``t``.

    Columns ``first .. first + n - 1`` (``n`` and ``first`` unsigned); at least one row,
    added in order, the first copied rather than added to zeros. Shared by
    :func:`partition_gap` and the sampler, which checks each block's partitions as it
    writes them: the same arithmetic, so the same bits.
    """
    row = members[0]
    for i in range(n):
        acc[i] = values[row, t, first + i]
    for r in range(1, members.shape[0]):
        row = members[r]
        for i in range(n):
            acc[i] += values[row, t, first + i]


@inline
def gap_bits(n, t, values, first, acc):
    """Largest |``acc[i]`` / total - 1| over ``i < n`` as int64 bits, NaN ignored.

    The total is row 0 of year ``t`` from column ``first``. The bits of a non-negative
    double order as its value, and their integer maximum vectorises where a floating-point
    one does not (see docs/performance.md).
    """
    largest = np.int64(0)
    for i in range(n):
        gap = abs(acc[i] / values[0, t, first + i] - 1.0)
        gap = gap if gap == gap else 0.0
        largest = max(largest, np.float64(gap).view(np.int64))
    return largest


@inline
def largest_gap(task_bits):
    """The largest of the tasks' :func:`gap_bits` as a double (0.0 when there are none).

    The bits are non-negative, so 0 is the identity of their maximum. A loop rather than
    ``task_bits.max()``, which would import numba's array reductions with every load of
    the kernel.
    """
    top = np.int64(0)
    for task in range(task_bits.shape[0]):
        top = max(top, task_bits[task])
    return np.int64(top).view(np.float64)


@kernel(parallel=True)
def partition_gap(values, part_ptr, rows):
    """Largest |sum of a partition's rows / total - 1| over years and draws (NaN ignored).

    ``values`` is draw-last (S, Y, n) with the total in row 0; partition p owns
    ``rows[part_ptr[p]:part_ptr[p + 1]]``. Tasks are blocks of draws, each summing whole
    rows of its block in a local buffer (:func:`sum_rows`, :func:`gap_bits`: loops over
    draws, which vectorise).
    """
    n_years = values.shape[1]
    n = values.shape[2]
    n_tasks = (n + GAP_BLOCK - 1) // GAP_BLOCK
    worst = np.zeros(n_tasks, dtype=np.int64)
    for task in prange(n_tasks):
        first = np.uintp(task * GAP_BLOCK)
        m = np.uintp(min(GAP_BLOCK, n - task * GAP_BLOCK))
        acc = np.empty(GAP_BLOCK)
        largest = np.int64(0)
        for t in range(n_years):
            for p in range(part_ptr.shape[0] - 1):
                members = rows[part_ptr[p] : part_ptr[p + 1]]
                if members.shape[0] == 0:  # no rows: a sum of zero
                    acc[:m] = 0.0
                else:
                    sum_rows(m, members, t, values, first, acc)
                largest = max(largest, gap_bits(m, t, values, first, acc))
        worst[task] = largest
    return largest_gap(worst)


@kernel(parallel=True)
def order_statistics(data, rows, ranks, out):
    """``out[c, j]`` = the ``ranks[j]``-th smallest value of ``data[rows[c]]`` (exact)."""
    for c in prange(rows.shape[0]):
        picked = np.empty(ranks.shape[0])
        select_ranks(data[rows[c]].copy(), ranks, picked)
        for j in range(ranks.shape[0]):
            out[c, j] = picked[j]
