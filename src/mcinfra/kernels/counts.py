"""Counting kernels of the streamed reductions."""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from mcinfra.kernels.jit import helper, inline, kernel
from mcinfra.kernels.special import log

# Predictions per group of bit masks in rank_bin_counts: 2**JOINT_BITS counters per bin.
JOINT_BITS = 5


@kernel(parallel=True)
def rank_bin_counts(scores, rows, indicators, edges, cell_bin, z_low, cells_per_unit, counts, hits):
    """Count draws per bin of each input's rank u = Phi(z), overall and where each holds.

    ``scores`` (K, n) normal scores; ``rows`` the inputs to count; ``indicators`` (P, n)
    booleans, true where prediction p holds in draw d. Adds to ``counts`` (len(rows), B)
    and ``hits`` (len(rows), B, P), B equal bins of u.

    Bins are found in z, without evaluating Phi: ``edges`` (B,) are the scores
    Phi^-1(b / B) followed by NaN, and ``cell_bin`` gives the bin of the left end of each
    grid cell of width 1 / cells_per_unit from ``z_low``; cells are narrower than bins, so
    one comparison with the next edge finishes the search (NaN: never past the last bin).
    Each draw adds one to a local count per (group, mask, bin) instead of one per
    prediction, a mask holding JOINT_BITS predictions' indicators as bits; the masks are
    split into predictions once per chunk. Inputs run in parallel; each owns its rows.

    Two passes per input, every draw's bin first and then the counts, beat one fused loop.
    Counts kept as rows of bins per mask make the split into predictions sums of whole
    rows, which vectorise, and the masks are packed here rather than by numpy: both cut a
    call's fixed cost (figures in docs/performance.md).
    """
    n_bins = counts.shape[1]
    n_draws = scores.shape[1]
    n_masks = 1 << JOINT_BITS
    held = pack_masks(indicators)
    n_groups = held.shape[0]
    top = np.float64(cell_bin.shape[0] - 1)
    for i in prange(rows.shape[0]):
        row = rows[i]
        joint = np.empty(n_masks * n_bins, dtype=np.int32)  # (mask, bin), flat: faster than 2-D
        bins = np.empty(n_draws, dtype=np.int16)  # int16: B must stay below 32,768
        for d in range(n_draws):
            z = scores[row, d]
            position = (z - z_low) * cells_per_unit
            position = position if position > 0.0 else 0.0  # also NaN
            position = position if position < top else top
            # int32 then unsigned: a double converts to int32 in one instruction (to
            # uint64 in several), and unsigned indexes need no wrap-around check
            b = np.uintp(cell_bin[np.uintp(np.int32(position))])
            bins[d] = b + np.uintp(z >= edges[b])
        for g in range(n_groups):
            joint[:] = 0
            masks = held[g]
            for d in range(n_draws):
                joint[np.intp(masks[d]) * n_bins + bins[d]] += 1
            _add_joint(joint, counts[i], hits[i], g * JOINT_BITS, g == 0)


@inline
def pack_masks(indicators):
    """Indicators (P, n) packed into masks (G, n), G = max(1, ceil(P / JOINT_BITS)).

    Bit j of ``masks[g, d]`` is ``indicators[g * JOINT_BITS + j, d]``.
    """
    n_predictions, n_draws = indicators.shape
    n_groups = max(1, (n_predictions + JOINT_BITS - 1) // JOINT_BITS)
    held = np.zeros((n_groups, n_draws), dtype=np.uint8)
    for p in range(n_predictions):
        bit = np.uint8(1 << (p % JOINT_BITS))
        masks = held[p // JOINT_BITS]
        flags = indicators[p]
        for d in range(n_draws):
            masks[d] |= bit if flags[d] else np.uint8(0)
    return held


@helper
def _add_joint(joint, counts, hits, first, with_counts):
    """Add (mask, bin) counts to per-bin ``counts`` and per-prediction ``hits`` (bins, P).

    Every sum runs over whole rows of bins, which vectorise: a prediction's hits are the
    sum of the 2**(JOINT_BITS - 1) mask rows with its bit set.
    """
    n_bins = counts.shape[0]
    n_masks = 1 << JOINT_BITS
    total = np.zeros(n_bins, dtype=np.int64)
    if with_counts:
        for m in range(n_masks):
            cell = joint[m * n_bins : (m + 1) * n_bins]
            for b in range(n_bins):
                total[b] += cell[b]
        for b in range(n_bins):
            counts[b] += total[b]
    for j in range(min(JOINT_BITS, hits.shape[1] - first)):
        total[:] = 0
        for m in range(n_masks):
            if (m >> j) & 1:
                cell = joint[m * n_bins : (m + 1) * n_bins]
                for b in range(n_bins):
                    total[b] += cell[b]
        for b in range(n_bins):
            hits[b, first + j] += total[b]


CROSSOVER_BLOCK = 1024  # draws per parallel task of crossover_counts


@kernel(parallel=True)
def crossover_counts(values, rising, falling, counts, offsets):
    """Per entity and draw: the crossover's year slot, counted, and the continuous crossover.

    ``values`` (S, Y, n) holds consecutive years; entity ``e`` rises in row ``rising[e]``
    and falls in row ``falling[e]``. The first year ``t`` with rising >= falling is
    counted in ``counts[e, t]`` ((E, Y + 1), added to; slot Y: never within the horizon).
    ``offsets[e, d]`` gets the continuous crossover in years after the first year:
    ``t - 1`` plus the point where log(rising / falling) crosses zero, interpolated
    linearly from year ``t - 1`` to ``t`` (0 when ``t`` is the first year, inf when never).
    """
    n_draws = values.shape[2]
    n_tasks = (n_draws + CROSSOVER_BLOCK - 1) // CROSSOVER_BLOCK
    task_counts = np.zeros((n_tasks, counts.shape[0], counts.shape[1]), dtype=np.int64)
    for task in prange(n_tasks):
        first = task * CROSSOVER_BLOCK
        stop = min(n_draws, first + CROSSOVER_BLOCK)
        _crossover_block(values, rising, falling, first, stop, task_counts[task], offsets)
    for task in range(n_tasks):
        counts += task_counts[task]


@helper
def _crossover_block(values, rising, falling, first, stop, counts, offsets):
    """:func:`crossover_counts` on draws ``first .. stop - 1``.

    A scalar loop finds each draw's crossing year and keeps its values and those of the
    year before; a branch-free loop over draws, which vectorises, takes the logarithms
    (mcinfra's branch-free :func:`log`) and interpolates. This beats one loop taking the C
    library's log at each crossing (figures in docs/performance.md).
    """
    n = stop - first
    n_years = values.shape[1]
    slot = np.empty(n)
    now_up, now_down = np.empty(n), np.empty(n)
    before_up, before_down = np.empty(n), np.empty(n)
    for e in range(rising.shape[0]):
        up, down = values[rising[e]], values[falling[e]]
        for i in range(n):  # scalar, leaving at the first crossing year
            d = first + i
            t = 0
            while t < n_years and not up[t, d] >= down[t, d]:
                t += 1
            counts[e, t] += 1
            slot[i] = t
            now, before = min(t, n_years - 1), max(t - 1, 0)
            now_up[i], now_down[i] = up[now, d], down[now, d]
            before_up[i], before_down[i] = up[before, d], down[before, d]
        for i in range(n):  # branch-free: vectorises
            now = log(now_up[i] / now_down[i])
            before = log(before_up[i] / before_down[i])
            offsets[e, first + i] = _interpolate(slot[i], now, before, n_years)


@inline
def _interpolate(slot, now, before, never):
    """Years after the first of a crossover in year ``slot`` (inf: ``never``), from log ratios."""
    fraction = -before / (now - before) if now > before else 1.0
    # also maps a NaN fraction (from zero or infinite series) to the interval's end
    fraction = min(max(fraction, 0.0), 1.0) if fraction == fraction else 1.0
    offset = 0.0 if slot == 0.0 else (slot - 1.0) + fraction
    return math.inf if slot >= never else offset
