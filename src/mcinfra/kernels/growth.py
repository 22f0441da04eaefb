"""Compound growth rates per draw, with the same bits on every machine and thread count."""

from __future__ import annotations

import numpy as np
from numba import prange

from mcinfra.kernels.jit import inline, kernel
from mcinfra.kernels.special import exp, log


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
