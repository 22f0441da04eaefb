"""Counting kernels of the streamed reductions."""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from mcinfra.kernels.jit import helper, kernel

# Predictions per group of bit masks in rank_bin_counts: 2**JOINT_BITS counters per bin.
JOINT_BITS = 5


@kernel(parallel=True)
def rank_bin_counts(scores, rows, held, edges, cell_bin, z_low, cells_per_unit, counts, hits):
    """Count draws per bin of each input's rank u = Phi(z), overall and where each holds.

    ``scores`` (K, n) normal scores; ``rows`` the inputs to count; ``held`` (G, n) int64,
    bit j of ``held[g, d]`` set where prediction ``g * JOINT_BITS + j`` holds in draw d.
    Adds to ``counts`` (len(rows), B) and ``hits`` (len(rows), B, P), B equal bins of u.

    Bins are found in z, without evaluating Phi: ``edges`` (B,) are the scores
    Phi^-1(b / B) followed by NaN, and ``cell_bin`` gives the bin of the left end of each
    grid cell of width 1 / cells_per_unit from ``z_low``; cells are narrower than bins, so
    one comparison with the next edge finishes the search (NaN: never past the last bin).
    Each draw adds one to a local count per (group, bin, mask) instead of one per
    prediction; the masks are split into predictions once per chunk. Inputs run in
    parallel; each owns its rows.

    Two passes per input: every draw's bin first, then the counts. This kernel took 0.093
    us per draw against 0.108 with both in one loop (default model, 27 inputs, 60,000
    draws, median of 20 calls).
    """
    n_bins = counts.shape[1]
    n_groups = held.shape[0]
    n_draws = scores.shape[1]
    n_masks = 1 << JOINT_BITS
    top = np.float64(cell_bin.shape[0] - 1)
    for i in prange(rows.shape[0]):
        row = rows[i]
        joint = np.empty(n_bins * n_masks, dtype=np.int32)  # (bin, mask), flat: 3x faster
        bins = np.empty(n_draws, dtype=np.int16)  # int16: B must stay below 32,768
        for d in range(n_draws):
            z = scores[row, d]
            position = (z - z_low) * cells_per_unit
            position = position if position > 0.0 else 0.0  # also NaN
            position = position if position < top else top
            b = np.intp(cell_bin[np.uintp(position)])
            bins[d] = b + np.intp(z >= edges[b])
        for g in range(n_groups):
            joint[:] = 0
            masks = held[g]
            for d in range(n_draws):
                joint[np.intp(bins[d]) * n_masks + masks[d]] += 1
            _add_joint(joint, counts[i], hits[i], g * JOINT_BITS, g == 0)


@helper
def _add_joint(joint, counts, hits, first, with_counts):
    """Add (bin, mask) counts to per-bin ``counts`` and per-prediction ``hits`` (bins, P).

    The sums run over the contiguous mask axis, so they vectorise.
    """
    n_masks = 1 << JOINT_BITS
    for b in range(counts.shape[0]):
        cell = joint[b * n_masks : (b + 1) * n_masks]
        if with_counts:
            counts[b] += cell.sum()
        for j in range(min(JOINT_BITS, hits.shape[1] - first)):
            total = 0
            for m in range(n_masks):
                total += cell[m] if (m >> j) & 1 else 0
            hits[b, first + j] += total


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
        now = math.log(rising[first, d] / falling[first, d])  # one log: they cost the most
        before = math.log(rising[first - 1, d] / falling[first - 1, d])
        fraction = -before / (now - before) if now > before else 1.0
        # also maps a NaN fraction (from zero or infinite series) to the interval's end
        fraction = min(max(fraction, 0.0), 1.0) if fraction == fraction else 1.0
        continuous_out[d] = years[first] - 1.0 + fraction
