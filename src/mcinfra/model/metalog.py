"""Metalog distributions (Keelin 2016): basis, least-squares fit, quantile function, density.

A k-term metalog is the quantile function ``M(y) = sum_j a_j b_j(y)`` on y in (0, 1), with
``L = ln(y / (1 - y))``, ``c = y - 1/2`` and the basis ``1, L, c L, c, c^2, c^2 L, c^3,
c^3 L, ...``. Grouping the terms, ``M(y) = P(c) + Q(c) L`` with two polynomials in c; this
module works on that form throughout (fit, evaluation, slope and the feasibility proof).
Bounds transform M: a lower bound gives ``bl + e^M``, an upper bound ``bu - e^-M``, both
``(bl + bu e^M) / (1 + e^M)``.

Everything here takes and returns plain floats and numpy arrays, so the SIPmath exchange can
use it as it is; :class:`mcinfra.model.distributions.Metalog` is the config family built on it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import polynomial as poly

MIN_TERMS = 2
MAX_TERMS = 16
THREE_TERM_LIMIT = 1.66711  # a 3-term metalog is feasible iff a2 > 0 and |a3| / a2 < this
_SQRT_2PI = math.sqrt(2 * math.pi)


@dataclass(frozen=True)
class MetalogCurve:
    """A metalog quantile function: coefficients ``a`` and optional bounds."""

    a: tuple[float, ...]
    lower: float | None = None
    upper: float | None = None

    def quantile(self, y: np.ndarray) -> np.ndarray:
        """``x(y)`` for probabilities ``y`` in (0, 1)."""
        y = np.asarray(y, dtype=float)
        with np.errstate(divide="ignore"):
            logit = np.log(y) - np.log1p(-y)
        return self.bounded(transformed_quantile(self.a, logit, y - 0.5))

    def value_at_score(self, z: np.ndarray) -> np.ndarray:
        """``x(Phi(z))``, exact in both tails (the logit from log-probabilities)."""
        logit, centre = _score_coordinates(z)
        return self.bounded(transformed_quantile(self.a, logit, centre))

    def score_slope(self, z: np.ndarray) -> np.ndarray:
        """``d x(Phi(z)) / dz``."""
        from scipy.special import log_ndtr

        z = np.asarray(z, dtype=float)
        logit, centre = _score_coordinates(z)
        p_coef, q_coef = split_coefficients(self.a)
        # phi(z) / (Phi(z) Phi(-z)), in logarithms: both factors underflow in the tails.
        ratio = np.exp(-0.5 * z * z - math.log(_SQRT_2PI) - log_ndtr(z) - log_ndtr(-z))
        phi = np.exp(-0.5 * z * z) / _SQRT_2PI
        d_p, d_q = poly.polyder(p_coef), poly.polyder(q_coef)
        slope = (poly.polyval(centre, d_p) + poly.polyval(centre, d_q) * logit) * phi
        slope = slope + poly.polyval(centre, q_coef) * ratio
        return self.bounded_slope(transformed_quantile(self.a, logit, centre)) * slope

    def density(self, y: np.ndarray) -> np.ndarray:
        """Probability density at ``x(y)``: ``1 / x'(y)``."""
        y = np.asarray(y, dtype=float)
        logit, centre = np.log(y) - np.log1p(-y), y - 0.5
        p_coef, q_coef = split_coefficients(self.a)
        slope = (
            poly.polyval(centre, poly.polyder(p_coef))
            + poly.polyval(centre, poly.polyder(q_coef)) * logit
            + poly.polyval(centre, q_coef) / (y * (1 - y))
        )
        return 1.0 / (self.bounded_slope(transformed_quantile(self.a, logit, centre)) * slope)

    def bounded(self, m: np.ndarray) -> np.ndarray:
        """The bounds' transform of ``M`` values."""
        lower, upper = self.lower, self.upper
        if lower is None and upper is None:
            return m
        with np.errstate(over="ignore"):
            if upper is None:
                return lower + np.exp(m)
            if lower is None:
                return upper - np.exp(-m)
            # (bl + bu e^M) / (1 + e^M), written so that neither exponential overflows.
            return lower + (upper - lower) / (1.0 + np.exp(-m))

    def bounded_slope(self, m: np.ndarray) -> np.ndarray:
        """``dx / dM`` of the bounds' transform."""
        lower, upper = self.lower, self.upper
        if lower is None and upper is None:
            return np.ones_like(m)
        with np.errstate(over="ignore"):
            if upper is None:
                return np.exp(m)
            if lower is None:
                return np.exp(-m)
            e = np.exp(-np.abs(m))
            return (upper - lower) * e / (1.0 + e) ** 2

    def support(self) -> tuple[float, float]:
        """Smallest and largest possible values."""
        low = -math.inf if self.lower is None else float(self.lower)
        return low, math.inf if self.upper is None else float(self.upper)


def _score_coordinates(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``L`` and ``c`` at ``y = Phi(z)``, both accurate far into either tail."""
    from scipy.special import log_ndtr, ndtr

    z = np.asarray(z, dtype=float)
    return log_ndtr(z) - log_ndtr(-z), 0.5 * (ndtr(z) - ndtr(-z))


def basis(y: np.ndarray, terms: int) -> np.ndarray:
    """The metalog basis ``b_1 .. b_terms`` at probabilities ``y``: shape (len(y), terms)."""
    y = np.asarray(y, dtype=float)
    logit, centre = np.log(y) - np.log1p(-y), y - 0.5
    columns = [np.ones_like(y), logit, centre * logit, centre]
    for j in range(5, terms + 1):
        columns.append(centre ** ((j - 1) // 2) if j % 2 else centre ** (j // 2 - 1) * logit)
    return np.stack(columns[:terms], axis=1)


def split_coefficients(a: tuple[float, ...] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (ascending powers of c) of ``P`` and ``Q`` in ``M = P(c) + Q(c) L``."""
    terms = len(a)
    p_coef = np.zeros(terms)
    q_coef = np.zeros(terms)
    for j, value in enumerate(a, start=1):
        if j == 1:
            p_coef[0] += value
        elif j == 2:
            q_coef[0] += value
        elif j == 3:
            q_coef[1] += value
        elif j == 4:
            p_coef[1] += value
        elif j % 2:
            p_coef[(j - 1) // 2] += value
        else:
            q_coef[j // 2 - 1] += value
    return poly.polytrim(p_coef), poly.polytrim(q_coef)


def transformed_quantile(a, logit: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``M`` from the logit and the centred probability."""
    p_coef, q_coef = split_coefficients(a)
    return poly.polyval(centre, p_coef) + poly.polyval(centre, q_coef) * logit


def transform_targets(values: np.ndarray, lower: float | None, upper: float | None) -> np.ndarray:
    """Values as the targets of the linear fit: x, ln(x - bl), -ln(bu - x) or the log-odds."""
    values = np.asarray(values, dtype=float)
    if lower is None and upper is None:
        return values
    if upper is None:
        return np.log(values - lower)
    if lower is None:
        return -np.log(upper - values)
    return np.log(values - lower) - np.log(upper - values)


def fit(
    probabilities: np.ndarray,
    values: np.ndarray,
    terms: int,
    lower: float | None = None,
    upper: float | None = None,
) -> MetalogCurve:
    """Least-squares metalog through points ``(p, x)`` (exact when ``terms`` equals their count).

    The caller checks that ``MIN_TERMS <= terms <= len(points)`` and that the values lie
    strictly inside the bounds; feasibility is :func:`is_feasible`'s to say.
    """
    matrix = basis(np.asarray(probabilities, dtype=float), terms)
    targets = transform_targets(values, lower, upper)
    a, *_ = np.linalg.lstsq(matrix, targets, rcond=None)
    return MetalogCurve(tuple(float(v) for v in a), lower, upper)


def is_feasible(a: tuple[float, ...] | np.ndarray) -> bool:
    """Whether ``M`` is strictly increasing on (0, 1).

    Two terms: ``a2 > 0``. Three: the closed-form condition ``a2 > 0`` and ``|a3| / a2 <
    1.66711``. More: ``D(y) = y (1 - y) M'(y) = R(c) + g(y) Q'(c)`` with ``R = (1/4 - c^2)
    P' + Q`` and ``g(y) = y (1 - y) L`` (bounded, with one minimum and one maximum) must be
    positive on [0, 1]. Interval bounds of ``D`` over sub-intervals of y, refined where they
    are inconclusive, prove it everywhere (so no sign change between grid points is missed)
    or find a point where it fails. A fit that cannot be proven positive is refused.
    """
    a = np.asarray(a, dtype=float)
    if len(a) < 2:
        return False
    if len(a) <= 3:
        return bool(a[1] > 0) and (len(a) == 2 or abs(a[2]) / a[1] < THREE_TERM_LIMIT)
    return _derivative_positive(a)


def _derivative_positive(a: np.ndarray, max_rounds: int = 48) -> bool:
    p_coef, q_coef = split_coefficients(a)
    quarter = np.array([0.25, 0.0, -1.0])
    r_coef = poly.polyadd(poly.polymul(quarter, poly.polyder(p_coef)), q_coef)
    dq_coef = poly.polyder(q_coef)
    margin = 1e-12 * float(np.sum(np.abs(a)))
    edges = np.linspace(0.0, 1.0, 257)
    low, high = edges[:-1], edges[1:]
    for _ in range(max_rounds):
        mid = 0.5 * (low + high)
        if np.any(_d_at(r_coef, dq_coef, mid) <= margin):
            return False
        r_low, _ = _interval_polyval(r_coef, low - 0.5, high - 0.5)
        dq_low, dq_high = _interval_polyval(dq_coef, low - 0.5, high - 0.5)
        g_low, g_high = _g_interval(low, high)
        products = np.stack([g_low * dq_low, g_low * dq_high, g_high * dq_low, g_high * dq_high])
        bound = r_low + products.min(axis=0)
        open_ = bound <= margin
        if not open_.any():
            return True
        low, high, mid = low[open_], high[open_], mid[open_]
        if len(low) > 200_000:
            return False
        low, high = np.concatenate([low, mid]), np.concatenate([mid, high])
    return False


def _d_at(r_coef: np.ndarray, dq_coef: np.ndarray, y: np.ndarray) -> np.ndarray:
    return poly.polyval(y - 0.5, r_coef) + _g(y) * poly.polyval(y - 0.5, dq_coef)


def _g(y: np.ndarray) -> np.ndarray:
    """``y (1 - y) ln(y / (1 - y))``, 0 at both ends."""
    y = np.asarray(y, dtype=float)
    inside = (y > 0) & (y < 1)
    safe = np.where(inside, y, 0.5)
    return np.where(inside, safe * (1 - safe) * (np.log(safe) - np.log1p(-safe)), 0.0)


@functools.cache
def _g_minimum() -> float:
    """Where ``g`` is smallest: the root of ``g'(y) = (1 - 2y) L + 1`` in (0, 1/2)."""
    low, high = 1e-12, 0.5
    for _ in range(200):
        mid = 0.5 * (low + high)
        if (1 - 2 * mid) * math.log(mid / (1 - mid)) + 1 < 0:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def _g_interval(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Range of ``g`` over each [low, high]: its ends and any turning point inside."""
    y_min = _g_minimum()
    candidates = [_g(low), _g(high)]
    for turn in (y_min, 1.0 - y_min):
        inside = (low < turn) & (turn < high)
        candidates.append(np.where(inside, _g(np.array(turn)), _g(low)))
    stacked = np.stack(candidates)
    return stacked.min(axis=0), stacked.max(axis=0)


def _interval_polyval(
    coef: np.ndarray, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of a polynomial over each interval [low, high] (interval Horner scheme)."""
    out_low = np.full_like(low, coef[-1])
    out_high = out_low.copy()
    for c in coef[-2::-1]:
        products = np.stack([out_low * low, out_low * high, out_high * low, out_high * high])
        out_low = products.min(axis=0) + c
        out_high = products.max(axis=0) + c
    return out_low, out_high


def fit_fewest_terms(
    probabilities: np.ndarray,
    values: np.ndarray,
    tolerance: float,
    lower: float | None = None,
    upper: float | None = None,
) -> tuple[MetalogCurve, float]:
    """The feasible least-squares metalog with the fewest terms within ``tolerance`` of ``values``.

    Fits of 2, 3, ... 16 terms (at most the number of points) through the points ``(p, x)``
    are tried in turn; the first that is a distribution (:func:`is_feasible`) and whose
    largest error ``max |x(p) - x|`` over the points is at most ``tolerance`` is returned.
    When none is, the feasible fit with the smallest error is.

    Returns
    -------
    tuple of (MetalogCurve, float)
        The fit and its largest error over the points.

    Raises
    ------
    ValueError
        When no fit is a distribution (values that do not increase with ``p``).
    """
    probabilities = np.asarray(probabilities, dtype=float)
    values = np.asarray(values, dtype=float)
    most = min(MAX_TERMS, len(values))
    # Householder QR is nested: the first k columns of Q and R factor the first k basis
    # functions, so one factorisation gives the least-squares fit of every size.
    q, r = np.linalg.qr(basis(probabilities, most))
    projected = q.T @ transform_targets(values, lower, upper)
    outside: list[tuple[float, MetalogCurve]] = []
    for terms in range(MIN_TERMS, most + 1):
        a = np.linalg.solve(r[:terms, :terms], projected[:terms])
        curve = MetalogCurve(tuple(float(v) for v in a), lower, upper)
        error = float(np.max(np.abs(curve.quantile(probabilities) - values)))
        # the error is cheap, the proof of feasibility is not: prove only what would be kept
        if error <= tolerance and is_feasible(curve.a):
            return curve, error
        outside.append((error, curve))
    for error, curve in sorted(outside, key=lambda item: item[0]):
        if is_feasible(curve.a):
            return curve, error
    raise ValueError("no metalog through these points is a distribution")
