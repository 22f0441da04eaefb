"""Counting kernels of the streamed reductions."""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from mcinfra.kernels.jit import kernel


@kernel(parallel=True)
def rank_bin_counts(scores, rows, held, edges, cell_bin, z_low, cells_per_unit, counts, hits):
    """Count draws per bin of each input's rank u = Phi(z), overall and where each holds.

    ``scores`` (K, n) normal scores; ``rows`` the inputs to count; ``held`` (n,) int64 bit
    masks, bit p set where prediction p holds. Adds to ``counts`` (len(rows), B) and
    ``hits`` (len(rows), B, P), B equal bins of u; a draw's P hit counters share a cache
    line and are added without branches. Bins are found in z, without evaluating Phi:
    ``edges`` (B - 1,) are the scores Phi^-1(b / B), and ``cell_bin`` gives the bin of the
    left end of each grid cell of width 1 / cells_per_unit from ``z_low``; at most a step
    or two along ``edges`` remains. Inputs run in parallel; each owns its rows.
    """
    n_bins = counts.shape[1]
    n_cells = cell_bin.shape[0]
    n_predictions = hits.shape[2]
    for i in prange(rows.shape[0]):
        row = rows[i]
        for d in range(scores.shape[1]):
            z = scores[row, d]
            position = (z - z_low) * cells_per_unit
            if not position > 0.0:  # also NaN
                b = 0
            elif position >= n_cells:
                b = n_bins - 1
            else:
                b = cell_bin[np.intp(position)]
                while b < n_bins - 1 and z >= edges[b]:
                    b += 1
            counts[i, b] += 1
            mask = held[d]
            for p in range(n_predictions):
                hits[i, b, p] += (mask >> p) & 1


@kernel(parallel=True)
def crossover_times(rising, falling, years, year_out, continuous_out):
    """Per draw: first year with rising >= falling, and the continuous crossover.

    ``rising`` and ``falling`` are (Y, n); ``years`` float64 (Y,). ``year_out`` gets the
    first such year (inf if none); ``continuous_out`` interpolates log(rising / falling)
    linearly between that year and the one before (the year itself when it is the first).
    """
    n_years = rising.shape[0]
    for d in prange(rising.shape[1]):
        first = -1
        for t in range(n_years):
            if rising[t, d] >= falling[t, d]:
                first = t
                break
        if first < 0:
            year_out[d] = np.inf
            continuous_out[d] = np.inf
            continue
        year_out[d] = years[first]
        if first == 0:
            continuous_out[d] = years[0]
            continue
        now = math.log(rising[first, d]) - math.log(falling[first, d])
        before = math.log(rising[first - 1, d]) - math.log(falling[first - 1, d])
        fraction = -before / (now - before) if now > before else 1.0
        # also maps a NaN fraction (from zero or infinite series) to the interval's end
        fraction = min(max(fraction, 0.0), 1.0) if fraction == fraction else 1.0
        continuous_out[d] = years[first] - 1.0 + fraction
