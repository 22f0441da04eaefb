"""Exact order statistics of selected (series, year) rows of a draw-last cube (S, Y, N)."""

from __future__ import annotations

import numpy as np
from numba import prange

from mcinfra.kernels.jit import kernel


@kernel
def column_quantiles(values, series, years, probs, out):
    """Quantiles of ``values[series[c], years[c], :]`` for each column c into ``out`` (C, P).

    Uses numpy's default ("linear") definition: with h = (n - 1) p, the value is
    x(floor h) + (h - floor h) (x(floor h + 1) - x(floor h)) over the sorted column x.
    """
    growth_quantiles(values, series, years, years, 0.0, probs, out)


@kernel(parallel=True)
def growth_quantiles(values, series, end_years, start_years, power, probs, out):
    """Quantiles over draws of ``(v[end] / v[start]) ** power - 1`` per column c.

    ``power = 0`` selects plain values ``v[end]`` instead (see :func:`column_quantiles`);
    ``power = 1 / (end - start)`` gives the realised CAGR.
    """
    n = values.shape[2]
    kth = np.empty(2 * probs.shape[0], dtype=np.int64)
    for j in range(probs.shape[0]):
        low = np.int64(np.floor((n - 1) * probs[j]))
        kth[2 * j] = low
        kth[2 * j + 1] = min(low + 1, n - 1)
    for c in prange(series.shape[0]):
        column = np.empty(n)
        s = series[c]
        end = end_years[c]
        start = start_years[c]
        if power == 0.0:
            for i in range(n):
                column[i] = values[s, end, i]
        else:
            for i in range(n):
                column[i] = (values[s, end, i] / values[s, start, i]) ** power - 1.0
        ordered = np.partition(column, kth)
        for j in range(probs.shape[0]):
            h = (n - 1) * probs[j]
            low = kth[2 * j]
            out[c, j] = ordered[low] + (h - low) * (ordered[kth[2 * j + 1]] - ordered[low])
