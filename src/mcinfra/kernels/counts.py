"""Counting kernels of the streamed reductions."""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from mcinfra.kernels.jit import kernel

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@kernel(parallel=True)
def rank_bin_counts(scores, rows, indicators, counts, hits):
    """Count draws per bin of each input's rank u = Phi(z), overall and where each holds.

    ``scores`` (K, n) normal scores; ``rows`` the inputs to count; ``indicators`` (P, n)
    booleans. Adds to ``counts`` (len(rows), B) and ``hits`` (P, len(rows), B), B equal bins
    of u. Inputs run in parallel; each owns its rows of the counts.
    """
    n_bins = counts.shape[1]
    for i in prange(rows.shape[0]):
        row = rows[i]
        for d in range(scores.shape[1]):
            u = 0.5 * math.erfc(-scores[row, d] * _INV_SQRT2)
            position = u * n_bins
            b = np.intp(position) if position > 0.0 else 0  # NaN too
            b = min(b, n_bins - 1)
            counts[i, b] += 1
            for p in range(indicators.shape[0]):
                if indicators[p, d]:
                    hits[p, i, b] += 1
