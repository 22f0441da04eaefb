"""The trajectory kernel: normals in, inputs and yearly series out, one draw at a time.

All model structure arrives as a :class:`KernelPlan` of plain arrays built by
:mod:`mcinfra.sampling.plan`. Per draw the normals are laid out as

``[copula scores (one per uncertain input) | total shocks (H) | segment shocks (H each)]``

and the series rows of ``out`` follow the plan's series order. Two entry points share the
per-draw model, each simulating one task (a range of whole blocks of a chunk):
:func:`simulate_range` draws the normals from the per-draw streams, and
:func:`simulate_range_from_normals` takes them from the caller (tests, quasi-Monte Carlo,
Shapley effects). :mod:`mcinfra.sampling.engine` runs a chunk's tasks on threads (the
kernels release the GIL): a prange loop around them compiled the whole model twice more,
once into the loop's body and once into the kernel holding it, which doubled a first run's
compiling (docs/performance.md, "The first run: compiling the kernels").
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import prange

from mcinfra.kernels.inputs import (
    FIXED,
    LOGNORMAL,
    NORMAL,
    SIP,
    TRIANGULAR,
    UNIFORM,
    tabulated_value,
    triangular_value,
    uniform_value,
)
from mcinfra.kernels.jit import helper, inline, kernel
from mcinfra.kernels.random import fill_block_normals, fill_normals
from mcinfra.kernels.select import gap_bits, sum_rows
from mcinfra.kernels.special import exp
from mcinfra.kernels.stream import store_fence, stream_copy

# The model runs on blocks of BLOCK draws held in scratch arrays with the draw axis last, so
# every step is a short branch-free loop over draws that the compiler can vectorise; a
# draw-at-a-time loop spends most of its time on index arithmetic. Each thread runs one
# task, a contiguous range of whole blocks, with one set of scratch arrays: scratch
# allocated every few blocks comes from fresh pages each time where the C library maps its
# larger allocations (a dask worker, whose nanny sets MALLOC_TRIM_THRESHOLD_). Results never
# depend on the block or task sizes (streams are per draw). 256 draws beat 64: longer
# loops, less loop overhead. A block's results are computed in scratch and then streamed
# to the caller's buffers (mcinfra.kernels.stream): written in place, each store first
# reads its line from memory (figures in docs/performance.md).
BLOCK = 256

OP_SERIES = 0
OP_INPUT = 1
OP_CONST = 2
OP_ADD = 3
OP_SUB = 4
OP_MUL = 5
OP_DIV = 6
OP_NEG = 7
OP_MIN = 8
OP_MAX = 9


class KernelPlan(NamedTuple):
    """Every array the kernel needs; shapes use K inputs, S series, Y years, H = Y - 1."""

    in_family: np.ndarray  # int64[K] family codes (mcinfra.kernels.inputs)
    in_params: np.ndarray  # float64[K, 4] packed parameters
    in_table: np.ndarray  # int64[K] first row of the input's spline table in tab_coef,
    # or, for a SIP input, its row in sip_values and sip_scores
    tab_coef: np.ndarray  # float64[M, 4] spline coefficients of all tabulated inputs
    chol_ptr: np.ndarray  # int64[K + 1] row pointers of the copula's Cholesky factor
    chol_col: np.ndarray  # int64[nnz] normal slot of each nonzero
    chol_val: np.ndarray  # float64[nnz]
    years: np.ndarray  # float64[Y] calendar years
    total_inputs: np.ndarray  # int64[2]: base, trend CAGR
    total_shock: np.ndarray  # float64[2]: sd, phi
    part_ptr: np.ndarray  # int64[P + 1] segment ranges of each partition
    part_shock: np.ndarray  # float64[P, 2]: sd, phi
    seg_share: np.ndarray  # int64[N] input index of each segment's base share
    seg_cagr: np.ndarray  # int64[N] input index of each segment's trend CAGR
    seg_series: np.ndarray  # int64[N] output row of each segment
    fn_series: np.ndarray  # int64[C] host segment row of each function split
    fn_crossover: np.ndarray  # int64[C] input index of the crossover year
    fn_steepness: np.ndarray  # int64[C] input index of the steepness
    fn_rising: np.ndarray  # int64[C] output row of the rising function (e.g. inference)
    fn_falling: np.ndarray  # int64[C] output row of the falling function (e.g. training)
    sum_ptr: np.ndarray  # int64[G + 1] member ranges of each sum (groups, aggregates)
    sum_members: np.ndarray  # int64[...] member rows
    sum_target: np.ndarray  # int64[G] output row of each sum
    ad_initial: np.ndarray  # int64[A] input index of the initial adoption share
    ad_rate: np.ndarray  # int64[A] input index of the logit growth per year
    ad_series: np.ndarray  # int64[A] output row
    dv_ptr: np.ndarray  # int64[D + 1] program ranges of derived series
    dv_op: np.ndarray  # int64[n_ops] opcodes (OP_*)
    dv_arg: np.ndarray  # int64[n_ops] series row or input index of loads
    dv_const: np.ndarray  # float64[n_ops] constants of OP_CONST
    dv_series: np.ndarray  # int64[D] output row
    n_uncertain: int  # number of copula scores per draw
    n_normals: int  # normals per draw
    max_segments: int  # largest partition
    max_stack: int  # deepest derived-series program
    growth_floor: float  # lower bound of every growth factor
    sip_values: np.ndarray  # float64[J, n] values of the J SIP inputs for the chunk's draws
    sip_scores: np.ndarray  # float64[J, n] and their normal scores (see mcinfra.sampling.sips)


class Scratch(NamedTuple):
    """A task's work arrays, draw axis last (see :func:`new_scratch`)."""

    normals: np.ndarray  # (n_normals, BLOCK)
    level: np.ndarray  # (max_segments, BLOCK) unnormalised segment levels
    shock: np.ndarray  # (max_segments, BLOCK) AR(1) shock state
    acc: np.ndarray  # (BLOCK,) running sums
    odds: np.ndarray  # (BLOCK,) carried odds of the logistic curves
    step: np.ndarray  # (BLOCK,) their yearly factor
    stack: np.ndarray  # (max_stack, Y, BLOCK) derived-series evaluation stack
    lanes: np.ndarray  # (5, BLOCK) uint64 random-stream states (fill_block_normals)
    values: np.ndarray  # (S, Y, BLOCK) the block's series
    inputs: np.ndarray  # (K, BLOCK) its input values
    scores: np.ndarray  # (K, BLOCK) and their normal scores


@inline
def new_scratch(plan, n_series):
    """Allocate the work arrays of one task."""
    n_inputs = plan.in_family.shape[0]
    return Scratch(
        np.empty((plan.n_normals, BLOCK)),
        np.empty((plan.max_segments, BLOCK)),
        np.empty((plan.max_segments, BLOCK)),
        np.empty(BLOCK),
        np.empty(BLOCK),
        np.empty(BLOCK),
        np.empty((plan.max_stack, plan.years.shape[0], BLOCK)),
        np.empty((5, BLOCK), dtype=np.uint64),
        np.empty((n_series, plan.years.shape[0], BLOCK)),
        np.empty((n_inputs, BLOCK)),
        np.empty((n_inputs, BLOCK)),
    )


@helper
def simulate_block(nb, plan, w, v, x, z, col, position):
    """Run the model on the ``nb`` draws whose normals are in ``w.normals[:, :nb]``.

    Results go to columns ``col .. col + nb - 1`` of the draw-last arrays ``v`` (S, Y, N),
    ``x`` (K, N) and ``z`` (K, N, each input's normal score in the copula, whose CDF value
    Phi(z) is the input's rank); later steps read earlier series back from there. The
    sampler passes the scratch block (``col`` 0), which stays in cache. ``position`` is
    that of the block's first draw in the chunk: column ``position + b`` of
    ``plan.sip_values`` and ``plan.sip_scores`` holds draw ``b``'s SIP inputs (NaN when
    those arrays do not reach that far).

    Returns the block's largest |sum of a partition's segments / total - 1| over years
    and draws (NaN ignored), as the int64 bits of that non-negative double.
    """
    # Unsigned positions: numba wraps negative signed indices around (index + length), a
    # check per access that keeps LLVM from vectorising the draw loops; unsigned ones
    # cannot be negative (the group sums gain most; see docs/performance.md).
    ucol = np.uintp(col)
    unb = np.uintp(nb)
    uposition = np.uintp(position)
    normals = w.normals
    level = w.level
    shock = w.shock
    acc = w.acc
    stack = w.stack
    n_inputs = plan.in_family.shape[0]
    n_years = plan.years.shape[0]
    horizon = n_years - 1
    floor = plan.growth_floor
    worst = np.int64(0)

    # Inputs: z = L e (Gaussian copula), then x = F^-1(Phi(z)).
    for k in range(n_inputs):
        family = plan.in_family[k]
        for b in range(unb):
            acc[b] = 0.0
        for p in range(plan.chol_ptr[k], plan.chol_ptr[k + 1]):
            weight = plan.chol_val[p]
            slot = plan.chol_col[p]
            for b in range(unb):
                acc[b] += weight * normals[slot, b]
        for b in range(unb):
            z[k, ucol + b] = acc[b]
        if family == NORMAL:  # the common families get their own branch-free loops
            mean = plan.in_params[k, 0]
            sd = plan.in_params[k, 1]
            for b in range(unb):
                x[k, ucol + b] = mean + sd * acc[b]
        elif family == FIXED:
            value = plan.in_params[k, 0]
            for b in range(unb):
                x[k, ucol + b] = value
        elif family == UNIFORM:
            low = plan.in_params[k, 0]
            high = plan.in_params[k, 1]
            for b in range(unb):
                x[k, ucol + b] = uniform_value(low, high, acc[b])
        elif family == TRIANGULAR:
            low = plan.in_params[k, 0]
            mode = plan.in_params[k, 1]
            high = plan.in_params[k, 2]
            mode_score = plan.in_params[k, 3]
            for b in range(unb):
                x[k, ucol + b] = triangular_value(low, mode, high, mode_score, acc[b])
        elif family == LOGNORMAL:
            mu = plan.in_params[k, 0]
            sigma = plan.in_params[k, 1]
            for b in range(unb):
                x[k, ucol + b] = exp(mu + sigma * acc[b])
        elif family == SIP:  # given per chunk; the latent normal plays no role
            row = plan.in_table[k]
            if position + nb <= plan.sip_values.shape[1]:
                for b in range(unb):
                    x[k, ucol + b] = plan.sip_values[row, uposition + b]
                    z[k, ucol + b] = plan.sip_scores[row, uposition + b]
            else:
                for b in range(unb):
                    x[k, ucol + b] = np.nan
                    z[k, ucol + b] = np.nan
        else:  # TABULATED, the only family left: inlining all of input_value here would
            # compile every family's code once more (first-run compile time)
            offset = plan.in_table[k]
            for b in range(unb):
                x[k, ucol + b] = tabulated_value(plan.in_params, k, offset, plan.tab_coef, acc[b])

    # Total: T(t) = T(t-1) * max(1 + g + s e_t, floor), e_t a unit AR(1) shock.
    base = plan.total_inputs[0]
    trend = plan.total_inputs[1]
    sd = plan.total_shock[0]
    phi = plan.total_shock[1]
    innovation = math.sqrt(1.0 - phi * phi)
    pos = plan.n_uncertain
    for b in range(unb):
        v[0, 0, ucol + b] = x[base, ucol + b]
        shock[0, b] = normals[pos, b]
    for t in range(1, n_years):
        if t > 1:
            for b in range(unb):
                shock[0, b] = phi * shock[0, b] + innovation * normals[pos + t - 1, b]
        for b in range(unb):
            v[0, t, ucol + b] = v[0, t - 1, ucol + b] * max(
                1.0 + x[trend, ucol + b] + sd * shock[0, b], floor
            )
    pos += horizon

    # Partitions: levels A_i grow by their own factors; V_i = T A_i / sum_j A_j.
    for p in range(plan.part_ptr.shape[0] - 1):
        first = plan.part_ptr[p]
        n_seg = plan.part_ptr[p + 1] - first
        sd = plan.part_shock[p, 0]
        phi = plan.part_shock[p, 1]
        innovation = math.sqrt(1.0 - phi * phi)
        for t in range(n_years):
            for b in range(unb):
                acc[b] = 0.0
            for j in range(n_seg):
                seg = first + j
                slot = pos + j * horizon + t - 1
                # One fused pass per segment-year: shock, growth and the running sum.
                if t == 0:
                    share = plan.seg_share[seg]
                    for b in range(unb):
                        level[j, b] = x[share, ucol + b]
                        acc[b] += level[j, b]
                    continue
                cagr = plan.seg_cagr[seg]
                for b in range(unb):
                    if t == 1:
                        e = normals[slot, b]
                    else:
                        e = phi * shock[j, b] + innovation * normals[slot, b]
                    shock[j, b] = e
                    level[j, b] *= max(1.0 + x[cagr, ucol + b] + sd * e, floor)
                    acc[b] += level[j, b]
            for b in range(unb):
                acc[b] = v[0, t, ucol + b] / acc[b]
            for j in range(n_seg):
                row = plan.seg_series[first + j]
                for b in range(unb):
                    v[row, t, ucol + b] = level[j, b] * acc[b]
            # The partition check, on the rows just written (still in cache): cheaper than a
            # separate pass reading them back from memory (docs/performance.md).
            sum_rows(unb, plan.seg_series[first : first + n_seg], t, v, ucol, acc)
            worst = max(worst, gap_bits(unb, t, v, ucol, acc))
        pos += n_seg * horizon

    # Function split: rising share q(y) = 1 / (1 + exp(-k (y - X))). Years are consecutive,
    # so the odds exp(-k (y - X)) are carried from year to year by the factor exp(-k): two
    # exp calls per draw, and a year loop over draws that vectorises. Draws whose carried
    # exponent could leave +-600 (absurd steepness) are redone directly.
    first_year = plan.years[0]
    odds = w.odds
    step = w.step
    for c in range(plan.fn_series.shape[0]):
        crossover = plan.fn_crossover[c]
        steepness = plan.fn_steepness[c]
        host = plan.fn_series[c]
        rising = plan.fn_rising[c]
        falling = plan.fn_falling[c]
        direct = False
        for b in range(unb):
            k = x[steepness, ucol + b]
            exponent = -k * (first_year - x[crossover, ucol + b])
            odds[b] = exp(exponent)  # falling / rising
            step[b] = exp(-k)
            direct |= not (abs(exponent) < 300.0 and abs(k) * horizon < 300.0)
        for t in range(n_years):
            for b in range(unb):
                q = 1.0 / (1.0 + odds[b])
                v[rising, t, ucol + b] = v[host, t, ucol + b] * q
                v[falling, t, ucol + b] = v[host, t, ucol + b] * (1.0 - q)
                odds[b] *= step[b]
        if direct:
            for b in range(unb):
                k = x[steepness, ucol + b]
                if (
                    abs(k * (first_year - x[crossover, ucol + b])) < 300.0
                    and abs(k) * horizon < 300.0
                ):
                    continue
                for t in range(n_years):
                    q = 1.0 / (1.0 + math.exp(-k * (plan.years[t] - x[crossover, ucol + b])))
                    v[rising, t, ucol + b] = v[host, t, ucol + b] * q
                    v[falling, t, ucol + b] = v[host, t, ucol + b] * (1.0 - q)

    # Groups and aggregates: sums of member rows, accumulated in cache before one store.
    for g in range(plan.sum_target.shape[0]):
        target = plan.sum_target[g]
        first_member = plan.sum_members[plan.sum_ptr[g]]
        for t in range(n_years):
            for b in range(unb):
                acc[b] = v[first_member, t, ucol + b]
            for m in range(plan.sum_ptr[g] + 1, plan.sum_ptr[g + 1]):
                member = plan.sum_members[m]
                for b in range(unb):
                    acc[b] += v[member, t, ucol + b]
            for b in range(unb):
                v[target, t, ucol + b] = acc[b]

    # Adoption: a(t) = 1 / (1 + exp(-(logit(a0) + r t))), carried like the function split.
    for a in range(plan.ad_series.shape[0]):
        initial = plan.ad_initial[a]
        rate = plan.ad_rate[a]
        row = plan.ad_series[a]
        direct = False
        for b in range(unb):
            share = x[initial, ucol + b]
            odds[b] = (1.0 - share) / share  # exp(-logit(a0))
            step[b] = exp(-x[rate, ucol + b])
            direct |= not (1e-120 < odds[b] < 1e120 and abs(x[rate, ucol + b]) * horizon < 300.0)
        for t in range(n_years):
            for b in range(unb):
                v[row, t, ucol + b] = 1.0 / (1.0 + odds[b])
                odds[b] *= step[b]
        if direct:
            for b in range(unb):
                share = x[initial, ucol + b]
                slope = x[rate, ucol + b]
                odds0 = (1.0 - share) / share
                if 1e-120 < odds0 < 1e120 and abs(slope) * horizon < 300.0:
                    continue
                start = math.log(share) - math.log1p(-share)
                for t in range(n_years):
                    v[row, t, ucol + b] = 1.0 / (1.0 + math.exp(-(start + slope * t)))

    for d in range(plan.dv_series.shape[0]):
        row = plan.dv_series[d]
        _run_program(nb, plan, d, x, v, col, stack)
        result = stack[0]
        for t in range(n_years):
            for b in range(unb):
                v[row, t, ucol + b] = result[t, b]
    return worst


@inline
def _run_program(nb, plan, d, x, v, col, stack):
    """Evaluate derived program ``d`` for every year of the block; result in ``stack[0]``.

    ``stack`` is (depth, Y, BLOCK): each operation runs over all years and draws at once,
    so the interpretation overhead is paid once per operation, not once per year.
    """
    n_years = plan.years.shape[0]
    ucol = np.uintp(col)
    unb = np.uintp(nb)
    top = -1
    for n in range(plan.dv_ptr[d], plan.dv_ptr[d + 1]):
        op = plan.dv_op[n]
        arg = plan.dv_arg[n]
        if op == OP_SERIES:
            top += 1
            dst = stack[top]
            for t in range(n_years):
                for b in range(unb):
                    dst[t, b] = v[arg, t, ucol + b]
        elif op == OP_INPUT:
            top += 1
            dst = stack[top]
            for t in range(n_years):
                for b in range(unb):
                    dst[t, b] = x[arg, ucol + b]
        elif op == OP_CONST:
            top += 1
            stack[top, :, :nb] = plan.dv_const[n]
        elif op == OP_NEG:
            dst = stack[top]
            for t in range(n_years):
                for b in range(unb):
                    dst[t, b] = -dst[t, b]
        else:
            top -= 1
            dst = stack[top]
            src = stack[top + 1]
            for t in range(n_years):
                for b in range(unb):
                    left = dst[t, b]
                    right = src[t, b]
                    if op == OP_ADD:
                        dst[t, b] = left + right
                    elif op == OP_SUB:
                        dst[t, b] = left - right
                    elif op == OP_MUL:
                        dst[t, b] = left * right
                    elif op == OP_DIV:
                        dst[t, b] = left / right
                    elif op == OP_MIN:
                        dst[t, b] = min(left, right)
                    else:
                        dst[t, b] = max(left, right)


@kernel
def simulate_range(key, first_draw, first, stop, plan, out, inputs_out, scores_out, column):
    """Draw and simulate draws ``first_draw + first .. first_draw + stop - 1`` (one task).

    Draw ``first_draw + i`` is written to column ``column + i`` of ``out`` (S, Y, N),
    ``inputs_out`` (K, N) and ``scores_out`` (K, N, normal scores): all draw-last. Draw
    ``d`` uses only the stream of ``(key, d)``, so any split of a run into chunks and tasks
    gives identical bits.

    Returns the partition check of these draws as the int64 bits of a double: the largest
    |sum of a partition's segments / total - 1| over their years (NaN ignored; 0.0 without
    partitions), the value :func:`mcinfra.kernels.select.partition_gap` gives for the
    written columns.
    """
    w = new_scratch(plan, out.shape[0])
    worst = np.int64(0)
    for block_first in range(first, stop, BLOCK):
        nb = min(BLOCK, stop - block_first)
        fill_block_normals(key, first_draw + block_first, nb, w.normals, w.lanes)
        gap = _run_block(nb, plan, w, out, inputs_out, scores_out, column, block_first)
        worst = max(worst, gap)
    store_fence()
    return worst


@kernel
def simulate_range_from_normals(normals, first, stop, plan, out, inputs_out, scores_out, column):
    """Simulate the draws of rows ``first .. stop - 1`` of ``normals`` (n, n_normals).

    Row ``i`` is written to column ``column + i`` of ``out`` (S, Y, N), ``inputs_out`` and
    ``scores_out`` (K, N); returns their partition check as :func:`simulate_range` does.
    """
    w = new_scratch(plan, out.shape[0])
    worst = np.int64(0)
    for block_first in range(first, stop, BLOCK):
        nb = min(BLOCK, stop - block_first)
        for b in range(nb):
            for j in range(plan.n_normals):
                w.normals[j, b] = normals[block_first + b, j]
        gap = _run_block(nb, plan, w, out, inputs_out, scores_out, column, block_first)
        worst = max(worst, gap)
    store_fence()
    return worst


@inline
def _run_block(nb, plan, w, out, inputs_out, scores_out, chunk_column, position):
    """Run the model on a block (normals in ``w.normals``): the chunk's draws ``position ..``.

    They are written from column ``chunk_column + position`` on.

    The block is computed in scratch, which stays in cache, then streamed out to outputs
    contiguous along draws (the buffers the engine allocates) and copied to others.
    :func:`simulate_block` is called with the scratch arrays only, so numba compiles it
    for one signature (each one costs tens of seconds on a first run). Returns the
    block's partition check (:func:`simulate_block`).
    """
    column = chunk_column + position
    worst = simulate_block(nb, plan, w, w.values, w.inputs, w.scores, 0, position)
    if out.strides[2] == 8 and inputs_out.strides[1] == 8 and scores_out.strides[1] == 8:
        _stream_block(nb, w, out, inputs_out, scores_out, column)
    else:
        # Loops, not slice assignments: those compile numba's shape-mismatch message code.
        for s in range(out.shape[0]):
            for t in range(out.shape[1]):
                for b in range(nb):
                    out[s, t, column + b] = w.values[s, t, b]
        for k in range(inputs_out.shape[0]):
            for b in range(nb):
                inputs_out[k, column + b] = w.inputs[k, b]
                scores_out[k, column + b] = w.scores[k, b]
    return worst


@inline
def _stream_block(nb, w, out, inputs_out, scores_out, column):
    """Copy a block's results from scratch to columns ``column ..`` with streaming stores."""
    values, inputs, scores = w.values, w.inputs, w.scores
    for s in range(out.shape[0]):
        for t in range(out.shape[1]):
            stream_copy(
                out,
                s * out.strides[0] + t * out.strides[1] + column * 8,
                values,
                s * values.strides[0] + t * values.strides[1],
                nb,
            )
    for k in range(inputs.shape[0]):
        row = k * inputs.strides[0]
        stream_copy(inputs_out, k * inputs_out.strides[0] + column * 8, inputs, row, nb)
        stream_copy(scores_out, k * scores_out.strides[0] + column * 8, scores, row, nb)


@kernel(parallel=True)
def draw_normals(key, draw_start, out):
    """The normals :func:`simulate_range` uses for draws draw_start.. (n, n_normals)."""
    n = out.shape[0]
    for task in prange((n + BLOCK - 1) // BLOCK):
        first = task * BLOCK
        fill_normals(key, draw_start + first, out[first : min(n, first + BLOCK)])
