"""Inverse-CDF transforms from a normal score ``z`` to an input value.

Every family is sampled as ``F^-1(Phi(z))``. Closed forms are used where they are cheap
and exact; other families (beta, PERT, truncated normal) use a cubic spline of
``G(z) = F^-1(Phi(z))`` tabulated from scipy and verified when it is built
(:func:`mcinfra.model.distributions.build_table`).
"""

from __future__ import annotations

import math

import numpy as np

from mcinfra.kernels.jit import inline, kernel
from mcinfra.kernels.special import exp, lower_tail, upper_tail

FIXED = 0
UNIFORM = 1
NORMAL = 2
LOGNORMAL = 3
TRIANGULAR = 4
TABULATED = 5
SIP = 6  # values computed outside the kernel, per chunk (KernelPlan.sip_values)


@inline
def tabulated_value(params, k, offset, coef, z):
    """Evaluate a tabulated ``G(z)``; beyond the table, the end value (probability < 2e-17)."""
    t = (z - params[k, 0]) * params[k, 1]
    n_intervals = params[k, 2]
    if not t > 0.0:  # also catches NaN, which must never become an index
        return coef[offset, 0]
    if t >= n_intervals:
        row = offset + np.intp(n_intervals) - 1
        return coef[row, 0] + coef[row, 1] + coef[row, 2] + coef[row, 3]
    i = np.intp(t)
    w = t - i
    row = offset + i
    return coef[row, 0] + w * (coef[row, 1] + w * (coef[row, 2] + w * coef[row, 3]))


@inline
def input_value(family, params, k, offset, coef, z):
    """Value at normal score ``z`` of input ``k`` with packed parameters ``params[k]``.

    Rows are indexed in place rather than sliced: a slice would take a reference on the
    shared parameter array, which threads then contend for.
    """
    if family == NORMAL:
        return params[k, 0] + params[k, 1] * z
    if family == LOGNORMAL:
        return exp(params[k, 0] + params[k, 1] * z)
    if family == FIXED:
        return params[k, 0]
    if family == TABULATED:
        return tabulated_value(params, k, offset, coef, z)
    if family == UNIFORM:
        return uniform_value(params[k, 0], params[k, 1], z)
    # TRIANGULAR: params = (min, mode, max, score of the mode)
    return triangular_value(params[k, 0], params[k, 1], params[k, 2], params[k, 3], z)


@inline
def uniform_value(low, high, z):
    """Uniform(low, high) at normal score ``z``.

    Measured from the nearer end, so the upper tail keeps its precision: one tail
    probability Phi(-|z|), then a select rather than two branches, so that a loop over
    draws calling it vectorises.
    """
    tail = (high - low) * upper_tail(abs(z))
    return low + tail if z <= 0.0 else high - tail


@inline
def triangular_value(low, mode, high, mode_score, z):
    """Triangular(low, mode, high) at normal score ``z``; ``mode_score`` = Phi^-1(F(mode)).

    One tail probability, of the side of the mode ``z`` falls on, and selects (see
    :func:`uniform_value`).
    """
    below = z < mode_score
    tail = lower_tail(z if below else -z)
    # one square root for either side: the vectorised loop would otherwise take both
    root = math.sqrt(tail * (high - low) * ((mode - low) if below else (high - mode)))
    return low + root if below else high - root


@kernel
def input_values(family, params, offset, coef, z, out):
    """Vectorised :func:`input_value` for one input (params float64[1, 4]) over scores ``z``."""
    for i in range(z.shape[0]):
        out[i] = input_value(family, params, 0, offset, coef, z[i])
