"""Calibration scores of a forecast (its draws, optionally weighted) against an actual value.

Everything here takes the forecast as one value per draw, ``values`` (n,), and optional
per-draw ``weights`` (n,) (None: every draw counts 1 / n), so that a plain run and a
reweighted one are scored by the same code: :func:`score` normalises the weights it is
given, the functions it calls take them normalised. The formulas are in
docs/model.md, section 17 (calibration scores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BANDS = (0.5, 0.9, 0.98)
"""Central bands whose coverage is reported, as shares of the forecast's probability."""
ATOM_SHARE = 0.01
"""A value holding this share of the weight or more is an atom: no density, no log score."""
PIT_BINS = 10


@dataclass(frozen=True)
class Score:
    """How one forecast fared against one actual value.

    ``pit`` is P(X < y) + P(X = y) / 2; ``bands`` maps each level of :data:`BANDS` to
    whether y lies in the forecast's central band of that level; ``crps`` is
    E|X - y| - E|X - X'| / 2 of the draws' distribution, exact (None when a draw is not
    finite); ``log_score`` is -ln f(y) for the Gaussian kernel density estimate f of
    bandwidth ``bandwidth`` (both None where :func:`log_score` finds no density);
    ``effective_draws`` is Kish's (sum w)^2 / sum w^2 (the draw count when unweighted).
    """

    pit: float
    bands: dict[float, bool]
    crps: float | None
    log_score: float | None
    bandwidth: float | None
    effective_draws: float


def normalised(weights: np.ndarray | None, n: int) -> np.ndarray | None:
    """``weights`` divided by their sum (None stays None: equal weights).

    Raises ``ValueError`` for weights that are negative, not finite, of the wrong length or
    all zero.
    """
    if weights is None:
        return None
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (n,):
        raise ValueError(f"expected {n} weights, got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("weights must be finite and non-negative")
    total = weights.sum()
    if not total > 0:
        raise ValueError("weights must not all be zero")
    return weights / total


def effective_draws(weights: np.ndarray | None, n: int) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of normalised ``weights``."""
    return float(n) if weights is None else float(1.0 / np.sum(weights * weights))


def pit(values: np.ndarray, actual: float, weights: np.ndarray | None = None) -> float:
    """Probability integral transform: P(X < y) + P(X = y) / 2 (ties split in half)."""
    below, equal = _below_and_equal(values, actual, weights)
    return below + equal / 2


def in_band(
    values: np.ndarray, actual: float, level: float, weights: np.ndarray | None = None
) -> bool:
    """Whether ``actual`` lies in the forecast's central band holding ``level`` of it.

    With a = (1 - level) / 2: at least a share a of the forecast at or below y, and at least
    a at or above it. This is the closed interval from the lower a-quantile to the upper
    (1 - a)-quantile, symmetric under X -> -X. Unweighted draws are compared as counts,
    exactly.
    """
    tail = round((1 - level) / 2, 12)  # 0.05, not 0.04999..., for level 0.9
    if weights is None:
        n = values.size
        below = int(np.count_nonzero(values < actual))
        equal = int(np.count_nonzero(values == actual))
        # at least a share `tail` at or below and at or above, in whole draws
        return (below + equal) >= tail * n and (n - below) >= tail * n
    below_share, equal_share = _below_and_equal(values, actual, weights)
    return below_share + equal_share >= tail and 1 - below_share >= tail


def crps(values: np.ndarray, actual: float, weights: np.ndarray | None = None) -> float | None:
    """Continuous ranked probability score E|X - y| - E|X - X'| / 2, exact from the draws.

    X and X' are independent draws of the forecast's distribution (each draw with its
    normalised weight). With the values sorted and W_i the weight before the i-th,
    E|X - X'| = 2 sum_i w_i x_i (2 W_i + w_i - 1), O(n log n). None when a value is not
    finite (the score is undefined or infinite).
    """
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        return None
    if weights is None:
        order = np.sort(values)
        n = order.size
        centre = order[n // 2]  # the formula is shift invariant; centring keeps digits
        centred = order - centre
        rank = np.arange(n, dtype=float)
        spread = 2 * float(np.sum(centred * (2 * rank + 1 - n))) / (float(n) * n)
        distance = float(np.mean(np.abs(values - actual)))
    else:
        index = np.argsort(values, kind="stable")
        order, w = values[index], weights[index]
        centred = order - order[order.size // 2]
        before = np.cumsum(w) - w
        spread = 2 * float(np.sum(w * centred * (2 * before + w - 1)))
        distance = float(np.sum(weights * np.abs(values - actual)))
    return distance - spread / 2


def silverman_bandwidth(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Silverman's rule 0.9 min(sd, IQR / 1.349) n^(-1/5), n the effective draws.

    sd and the interquartile range are weighted when ``weights`` are given.
    """
    n = effective_draws(weights, values.size)
    if weights is None:
        sd = float(np.std(values))
        q25, q75 = np.quantile(values, [0.25, 0.75])
    else:
        mean = float(np.sum(weights * values))
        sd = math.sqrt(max(float(np.sum(weights * (values - mean) ** 2)), 0.0))
        q25, q75 = weighted_quantiles(values, weights, [0.25, 0.75])
    spread = min(sd, float(q75 - q25) / 1.349) if q75 > q25 else sd
    return 0.9 * spread * n ** (-0.2)


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, probs) -> np.ndarray:
    """The lower quantiles inf{x: W(X <= x) >= p} of normalised ``weights``."""
    index = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[index])
    at = np.searchsorted(cumulative, np.asarray(probs) * cumulative[-1], side="left")
    return values[index][np.minimum(at, values.size - 1)]


def largest_atom(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The largest share of the forecast held by a single value."""
    index = np.argsort(values, kind="stable")
    order = values[index]
    starts = np.flatnonzero(np.concatenate([[True], order[1:] != order[:-1]]))
    if weights is None:
        runs = np.diff(np.append(starts, order.size))
        return float(runs.max()) / order.size
    sums = np.add.reduceat(weights[index], starts)
    return float(sums.max())


def log_score(
    values: np.ndarray, actual: float, weights: np.ndarray | None = None
) -> tuple[float | None, float | None]:
    """(-ln f(y), h) for the Gaussian kernel density estimate f of bandwidth h.

    f(y) = sum_i w_i phi((y - x_i) / h) / h with Silverman's bandwidth
    (:func:`silverman_bandwidth`), evaluated as a log-sum-exp so that it never underflows.
    (None, None) when the forecast has no density: a value that is not finite, a single
    value holding :data:`ATOM_SHARE` of the forecast or more (a 0/1 quantity, a year, a
    floored value), or no spread at all.
    """
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)) or largest_atom(values, weights) >= ATOM_SHARE:
        return None, None
    h = silverman_bandwidth(values, weights)
    if not h > 0:
        return None, None
    exponent = -0.5 * ((actual - values) / h) ** 2
    if weights is not None:
        with np.errstate(divide="ignore"):
            exponent = exponent + np.log(weights)
    else:
        exponent = exponent - math.log(values.size)
    peak = float(exponent.max())
    log_density = peak + math.log(float(np.sum(np.exp(exponent - peak))))
    log_density -= math.log(h) + 0.5 * math.log(2 * math.pi)
    return -log_density, h


def score(values: np.ndarray, actual: float, weights: np.ndarray | None = None) -> Score:
    """Every score of a forecast (``values`` per draw, optional ``weights``) against ``actual``.

    ``weights`` need not be normalised (None for a plain run: every draw counts equally).
    """
    values = np.asarray(values, dtype=float)
    w = normalised(weights, values.size)
    value, bandwidth = log_score(values, actual, w)
    return Score(
        pit=pit(values, actual, w),
        bands={level: in_band(values, actual, level, w) for level in BANDS},
        crps=crps(values, actual, w),
        log_score=value,
        bandwidth=bandwidth,
        effective_draws=effective_draws(w, values.size),
    )


def pit_histogram(pits, bins: int = PIT_BINS) -> tuple[list[float], list[int], float]:
    """(bin edges, counts, count per bin if uniform) of PIT values in ``bins`` bins of [0, 1].

    The last bin holds 1.
    """
    pits = np.asarray(pits, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, _ = np.histogram(pits, bins=edges)
    return [float(e) for e in edges], [int(c) for c in counts], pits.size / bins


def _below_and_equal(
    values: np.ndarray, actual: float, weights: np.ndarray | None
) -> tuple[float, float]:
    """Shares of the forecast strictly below ``actual`` and equal to it."""
    below, equal = values < actual, values == actual
    if weights is None:
        n = values.size
        return int(np.count_nonzero(below)) / n, int(np.count_nonzero(equal)) / n
    return float(np.sum(weights[below])), float(np.sum(weights[equal]))
