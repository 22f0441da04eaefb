"""Calibration scores of a forecast (its draws, optionally weighted) against an actual value.

Everything here takes the forecast as one value per draw, ``values`` (n,), and optional
per-draw ``weights`` (n,) (None: every draw counts 1 / n), so that a plain run and a
reweighted one are scored by the same code: :func:`score` normalises the weights it is
given and sorts the draws once (:class:`SortedForecast`), which every score then reads.
The formulas are in docs/model.md, section 17 (calibration scores).
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


@dataclass(frozen=True)
class SortedForecast:
    """A forecast's values in ascending order, with their normalised weights (or None).

    Every score below reads the forecast through one sort of its draws.
    """

    values: np.ndarray
    weights: np.ndarray | None

    @property
    def size(self) -> int:
        """The number of draws."""
        return self.values.size

    def shares(self, actual: float) -> tuple[float, float]:
        """Shares of the forecast strictly below ``actual`` and at or below it."""
        low = int(np.searchsorted(self.values, actual, side="left"))
        high = int(np.searchsorted(self.values, actual, side="right"))
        if self.weights is None:
            return low / self.size, high / self.size
        cumulative = np.concatenate([[0.0], np.cumsum(self.weights)])
        return float(cumulative[low]), float(cumulative[high])


def sort_forecast(values: np.ndarray, weights: np.ndarray | None = None) -> SortedForecast:
    """``values`` sorted, with their normalised ``weights`` in the same order."""
    values = np.asarray(values, dtype=float)
    if weights is None:
        return SortedForecast(np.sort(values), None)
    index = np.argsort(values)
    return SortedForecast(values[index], weights[index])


def pit(forecast: SortedForecast, actual: float) -> float:
    """Probability integral transform: P(X < y) + P(X = y) / 2 (ties split in half)."""
    below, at_or_below = forecast.shares(actual)
    return below + (at_or_below - below) / 2


def in_band(forecast: SortedForecast, actual: float, level: float) -> bool:
    """Whether ``actual`` lies in the forecast's central band holding ``level`` of it.

    With a = (1 - level) / 2: at least a share a of the forecast at or below y, and at least
    a at or above it. This is the closed interval from the lower a-quantile to the upper
    (1 - a)-quantile, symmetric under X -> -X. Unweighted draws are compared as counts,
    exactly.
    """
    tail = round((1 - level) / 2, 12)  # 0.05, not 0.04999..., for level 0.9
    if forecast.weights is None:
        n = forecast.size
        below = int(np.searchsorted(forecast.values, actual, side="left"))
        at_or_below = int(np.searchsorted(forecast.values, actual, side="right"))
        return at_or_below >= tail * n and n - below >= tail * n
    below_share, at_or_below_share = forecast.shares(actual)
    return at_or_below_share >= tail and 1 - below_share >= tail


def crps(forecast: SortedForecast, actual: float) -> float | None:
    """Continuous ranked probability score E|X - y| - E|X - X'| / 2, exact from the draws.

    X and X' are independent draws of the forecast's distribution (each draw with its
    normalised weight). With the values sorted and W_i the weight before the i-th,
    E|X - X'| = 2 sum_i w_i x_i (2 W_i + w_i - 1): O(n) once sorted. None when a value is
    not finite (the score is undefined or infinite).
    """
    values = forecast.values
    if not (math.isfinite(values[0]) and math.isfinite(values[-1])):  # sorted: NaN is last
        return None
    n = values.size
    centred = values - values[n // 2]  # the formula is shift invariant; centring keeps digits
    if forecast.weights is None:
        rank = np.arange(n, dtype=float)
        spread = 2 * float(np.sum(centred * (2 * rank + 1 - n))) / (float(n) * n)
        distance = float(np.mean(np.abs(values - actual)))
    else:
        w = forecast.weights
        before = np.cumsum(w) - w
        spread = 2 * float(np.sum(w * centred * (2 * before + w - 1)))
        distance = float(np.sum(w * np.abs(values - actual)))
    return distance - spread / 2


def silverman_bandwidth(forecast: SortedForecast) -> float:
    """Silverman's rule 0.9 min(sd, IQR / 1.349) n^(-1/5), n the effective draws.

    sd and the interquartile range are weighted when the forecast's draws are.
    """
    values, weights = forecast.values, forecast.weights
    n = effective_draws(weights, values.size)
    if weights is None:
        sd = float(np.std(values))
        q25, q75 = np.quantile(values, [0.25, 0.75])
    else:
        mean = float(np.sum(weights * values))
        sd = math.sqrt(max(float(np.sum(weights * (values - mean) ** 2)), 0.0))
        cumulative = np.cumsum(weights)
        at = np.searchsorted(cumulative, np.array([0.25, 0.75]) * cumulative[-1], side="left")
        q25, q75 = values[np.minimum(at, values.size - 1)]  # lower quantiles
    spread = min(sd, float(q75 - q25) / 1.349) if q75 > q25 else sd
    return 0.9 * spread * n ** (-0.2)


def largest_atom(forecast: SortedForecast) -> float:
    """The largest share of the forecast held by a single value."""
    values = forecast.values
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    if forecast.weights is None:
        runs = np.diff(np.append(starts, values.size))
        return float(runs.max()) / values.size
    return float(np.add.reduceat(forecast.weights, starts).max())


def log_score(forecast: SortedForecast, actual: float) -> tuple[float | None, float | None]:
    """(-ln f(y), h) for the Gaussian kernel density estimate f of bandwidth h.

    f(y) = sum_i w_i phi((y - x_i) / h) / h with Silverman's bandwidth
    (:func:`silverman_bandwidth`), evaluated as a log-sum-exp so that it never underflows.
    (None, None) when the forecast has no density: a value that is not finite, a single
    value holding :data:`ATOM_SHARE` of the forecast or more (a 0/1 quantity, a year, a
    floored value), or no spread at all.
    """
    values, weights = forecast.values, forecast.weights
    if not (math.isfinite(values[0]) and math.isfinite(values[-1])):
        return None, None
    if largest_atom(forecast) >= ATOM_SHARE:
        return None, None
    h = silverman_bandwidth(forecast)
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
    The draws are sorted once; every score reads the sorted forecast.
    """
    values = np.asarray(values, dtype=float)
    w = normalised(weights, values.size)
    forecast = sort_forecast(values, w)
    value, bandwidth = log_score(forecast, actual)
    return Score(
        pit=pit(forecast, actual),
        bands={level: in_band(forecast, actual, level) for level in BANDS},
        crps=crps(forecast, actual),
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
