"""Compound growth rates per draw, with the same bits on every machine and thread count."""

from __future__ import annotations

import numpy as np
from numba import prange

from mcinfra.kernels.jit import inline, kernel
from mcinfra.kernels.special import SMALLEST_NORMAL, exp, log


@inline
def compound_growth(ratio, power):
    """``ratio ** power - 1``, as ``exp(power log(ratio)) - 1`` (``ratio - 1`` for power 1).

    mcinfra's own exp and log (:mod:`mcinfra.kernels.special`) instead of the C library's
    ``pow``: the same bits on every machine, more cheaply than ``pow``; within
    a few ulp of it. Negative ratios give NaN (but for power 1), zero gives -1, as ``pow``.
    """
    if power == 1.0:
        return ratio - 1.0
    return exp(log(ratio) * power) - 1.0


@kernel(parallel=True)
def growth_rates(end, start, power, out):
    """``out[i] = (end[i] / start[i]) ** power - 1``: with ``power = 1 / years``, a CAGR.

    Division by zero gives inf or NaN, as in numpy.
    """
    for i in prange(out.shape[0]):
        out[i] = compound_growth(end[i] / start[i], power)


@inline
def _step(bits, steps):
    """The double whose bits are ``bits + steps``: ``steps`` doubles above a positive one."""
    return np.uint64(bits + np.uint64(steps)).view(np.float64)


@inline
def _if_within(candidate, start, end, best):
    """``candidate`` when ``start * candidate`` (rounded) <= ``end``, else ``best``."""
    return candidate if start * candidate <= end else best


@kernel(parallel=True)
def growth_factors(end, start, out):
    """``out[i]``: the growth factor from ``start[i]`` to ``end[i]`` that the model applied.

    For positive normal ``start``, ``end`` and ratio, the largest double g with
    ``start * g`` (rounded) <= ``end``. The model stores ``end = start * f`` rounded, so
    g >= f and any lower bound on f (the growth-factor floor) holds for g exactly, where
    ``end / start`` can fall one ulp below it. Otherwise ``end / start``, as numpy (zeros,
    negative, non-finite and subnormal values).

    The rounded product grows with g, by between half an ulp and two ulps of ``end`` per
    step of g, and the quotient's product lies within an ulp of ``end``: so g is among the
    quotient's neighbours from two below to four above, picked without branches (a loop of
    selects that vectorises).
    """
    for i in prange(out.shape[0]):
        s = start[i]
        e = end[i]
        q = e / s
        normal = s >= SMALLEST_NORMAL and e >= SMALLEST_NORMAL and SMALLEST_NORMAL <= q < np.inf
        g = q
        if normal:
            base = np.float64(q).view(np.uint64) - np.uint64(2)
            g = _step(base, 0)
            for k in range(1, 7):
                g = _if_within(_step(base, k), s, e, g)
        out[i] = g


def growth_factor(end: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Per draw, the growth factor from ``start`` to ``end`` (any shape): :func:`growth_factors`."""
    end, start = np.broadcast_arrays(np.asarray(end, np.float64), np.asarray(start, np.float64))
    flat = np.empty(end.size)
    growth_factors(np.ascontiguousarray(end).ravel(), np.ascontiguousarray(start).ravel(), flat)
    return flat.reshape(end.shape)


def growth_rate(end: np.ndarray, start: np.ndarray, years: int) -> np.ndarray:
    """Per draw, the compound annual growth rate from ``start`` to ``end`` over ``years``.

    ``end`` and ``start`` are rows of draws (1-D); see :func:`compound_growth`.
    """
    out = np.empty(end.shape)
    growth_rates(end, start, 1.0 / years, out)
    return out


def ratio_growth(ratios: np.ndarray, years: int) -> np.ndarray:
    """The growth rate per year of growth ratios (any shape) over ``years``.

    As :func:`growth_rate` with ``start`` 1 (dividing by 1 is exact).
    """
    flat = np.ascontiguousarray(ratios, dtype=np.float64).ravel()
    return growth_rate(flat, np.ones_like(flat), years).reshape(np.shape(ratios))
