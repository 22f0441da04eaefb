"""Importance weights of draws: exact fixed-point sums, effective sample size, PSIS k-hat.

Draw i's weight is w_i = exp(logw_i - max_j logw_j), rounded to a multiple of 2**-60
(:data:`FRACTION_BITS`) and held as an integer. Sums of such integers are exact, so they
do not depend on the order, the chunk size, the thread count or how the draws were split
between tasks: :class:`WeightedSums` of parts merge into the sums of the whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

FRACTION_BITS = 60  # weights are integers in units of 2**-60
_HALF_BITS = 30  # split of each integer so that int64 sums over a chunk cannot overflow


def fixed_point(weights: np.ndarray) -> np.ndarray:
    """Weights in [0, 1] as int64 multiples of 2**-FRACTION_BITS (rounded to nearest)."""
    scaled = np.rint(np.ldexp(np.asarray(weights, dtype=np.float64), FRACTION_BITS))
    return scaled.astype(np.int64)


def exact_sum(units: np.ndarray) -> int:
    """Exact sum of int64 values in [0, 2**60] as a Python int, whatever their number."""
    units = np.asarray(units, dtype=np.int64)
    total = 0
    step = 1 << 24  # at most 2**24 terms of < 2**31 per int64 sum
    for start in range(0, units.size, step):
        part = units[start : start + step]
        high = int(np.sum(part >> _HALF_BITS, dtype=np.int64))
        low = int(np.sum(part & ((1 << _HALF_BITS) - 1), dtype=np.int64))
        total += (high << _HALF_BITS) + low
    return total


def scaled_weights(log_weights: np.ndarray, top: float) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-point w_i = exp(logw_i - top) and w_i**2 for a chunk (``top`` = the largest)."""
    shifted = np.asarray(log_weights, dtype=np.float64) - top
    with np.errstate(under="ignore"):
        return fixed_point(np.exp(shifted)), fixed_point(np.exp(2.0 * shifted))


@dataclass
class WeightedSums:
    """Exact sums of scaled weights over draws: total, of squares, and per indicator.

    ``weight`` = sum w_i, ``square`` = sum w_i**2; ``holds[k]`` and ``holds_square[k]``
    the same over the draws where indicator k holds. All in units of 2**-60.
    """

    indicators: int
    draws: int = 0
    weight: int = 0
    square: int = 0
    holds: list[int] = field(default_factory=list)
    holds_square: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.holds = self.holds or [0] * self.indicators
        self.holds_square = self.holds_square or [0] * self.indicators

    def add(self, log_weights: np.ndarray, top: float, indicators: np.ndarray) -> None:
        """Add a chunk: its log-weights (n,) and indicators (K, n) of bool."""
        units, squares = scaled_weights(log_weights, top)
        self.draws += units.size
        self.weight += exact_sum(units)
        self.square += exact_sum(squares)
        for k in range(self.indicators):
            mask = np.asarray(indicators[k], dtype=bool)
            self.holds[k] += exact_sum(units[mask])
            self.holds_square[k] += exact_sum(squares[mask])

    def merge(self, other: WeightedSums) -> None:
        """Add the sums of another, disjoint, set of draws."""
        self.draws += other.draws
        self.weight += other.weight
        self.square += other.square
        self.holds = [a + b for a, b in zip(self.holds, other.holds, strict=True)]
        self.holds_square = [
            a + b for a, b in zip(self.holds_square, other.holds_square, strict=True)
        ]

    @property
    def effective_draws(self) -> float:
        """ESS = 1 / sum w~_i**2 = (sum w_i)**2 / sum w_i**2."""
        return (self.weight / 2**FRACTION_BITS) ** 2 / (self.square / 2**FRACTION_BITS)

    def probability(self, k: int) -> WeightedProbability:
        """Posterior probability of indicator ``k`` with its standard error and ESS."""
        p = self.holds[k] / self.weight
        # sum w~^2 (1 - p)^2 over holding draws + sum w~^2 p^2 over the others
        square_holds = self.holds_square[k] / self.square
        variance = ((1 - p) ** 2 * square_holds + p * p * (1 - square_holds)) / (
            self.effective_draws
        )
        return WeightedProbability(p, math.sqrt(max(variance, 0.0)), self.effective_draws)


@dataclass(frozen=True)
class WeightedProbability:
    """A self-normalised importance-sampling estimate of a probability."""

    probability: float
    std_error: float  # sqrt(sum w~_i^2 (1_i - p)^2)
    effective_draws: float

    def interval(self, z: float = 1.959963984540054) -> tuple[float, float]:
        """Wilson interval with the effective sample size in place of the draws."""
        n, p = self.effective_draws, self.probability
        denominator = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denominator
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
        return max(0.0, centre - half), min(1.0, centre + half)


def effective_sample_size(weights: np.ndarray) -> float:
    """ESS = (sum w)**2 / sum w**2 of non-negative weights (any scale)."""
    w = np.asarray(weights, dtype=np.float64)
    return float(np.sum(w) ** 2 / np.sum(w * w))


def khat_threshold(draws: int) -> float:
    """Largest reliable PSIS shape for ``draws`` draws: min(1 - 1 / log10 S, 0.7)."""
    return min(1.0 - 1.0 / math.log10(draws), 0.7) if draws > 10 else 0.0


def tail_length(draws: int) -> int:
    """Number of largest weights the Pareto fit uses: min(S / 5, 3 sqrt(S))."""
    return math.ceil(min(0.2 * draws, 3.0 * math.sqrt(draws)))


def pareto_khat(log_weights: np.ndarray) -> float:
    """PSIS shape k-hat of the largest weights (Vehtari, Gelman and Gabry; Zhang-Stephens).

    A generalized Pareto is fitted to the exceedances of the :func:`tail_length` largest
    weights over the next largest one. Returns ``nan`` when the tail has fewer than 5
    distinct positive exceedances (nothing to fit).
    """
    logw = np.asarray(log_weights, dtype=np.float64)
    logw = logw[np.isfinite(logw)]
    size = tail_length(logw.size)
    if size < 5 or logw.size <= size:
        return math.nan
    ordered = np.sort(logw, kind="stable")
    top = ordered[-1]
    tail = np.exp(ordered[-size:] - top)
    cutoff = math.exp(ordered[-size - 1] - top)
    exceedances = tail - cutoff
    if np.count_nonzero(exceedances > 0) < 5:
        return math.nan
    return generalized_pareto_fit(exceedances)[0]


def generalized_pareto_fit(sample: np.ndarray) -> tuple[float, float]:
    """Shape k and scale sigma of a generalized Pareto fitted to a positive sample.

    Zhang and Stephens' (2009) empirical Bayes estimate: the profile of theta = -k / sigma
    over a grid of ``30 + sqrt(n)`` points weighted by its profile likelihood, then k
    shrunk towards 0.5 with a weak prior of 10 pseudo-observations, as in PSIS.
    """
    x = np.sort(np.asarray(sample, dtype=np.float64), kind="stable")
    n = x.size
    points = 30 + int(math.sqrt(n))
    quartile = x[max(int(n / 4 + 0.5) - 1, 0)]
    theta = 1.0 / x[-1] + (1.0 - np.sqrt(points / (np.arange(1, points + 1) - 0.5))) / (
        3.0 * quartile
    )
    shape = np.mean(np.log1p(-theta[:, None] * x[None, :]), axis=1)
    profile = n * (np.log(-theta / shape) - shape - 1.0)
    with np.errstate(over="ignore"):  # a hopeless grid point gets weight 0
        weights = 1.0 / np.sum(np.exp(profile[None, :] - profile[:, None]), axis=1)
    weights /= np.sum(weights)
    theta_hat = float(np.sum(theta * weights))
    k_hat = float(np.mean(np.log1p(-theta_hat * x)))
    sigma = -k_hat / theta_hat
    k_hat = (n * k_hat + 10 * 0.5) / (n + 10)
    return k_hat, sigma


def weighted_quantiles(
    values: np.ndarray, weights: np.ndarray, levels: tuple[float, ...]
) -> list[float]:
    """Exact weighted quantiles: the smallest value whose cumulative weight share >= level.

    Ties and order are resolved by a stable sort, so the result depends only on the values
    and weights, not on how they were computed.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    order = np.argsort(v, kind="stable")
    cumulative = np.cumsum(w[order])
    total = cumulative[-1]
    result = []
    for level in levels:
        index = int(np.searchsorted(cumulative, level * total, side="left"))
        result.append(float(v[order[min(index, v.size - 1)]]))
    return result


class WeightedBuckets:
    """Weighted quantiles of many rows within a relative accuracy, from exact integer sums.

    Each value falls in a bucket cut from its bits as in :mod:`mcinfra.stats.sketch` (every
    member within relative ``relative_accuracy`` of the bucket's representative); a bucket
    holds the fixed-point sum of its draws' weights, as three int64 parts of 20 bits each
    (a part's sum stays exact up to 2**43 draws). Positive values are counted in a dense
    table spanning their buckets; zeros and negative values, whose keys would stretch that
    table across every octave in between, in a dict. Sums are exact, so the buckets of
    disjoint sets of draws merge into those of the whole in any order or split. NaN values
    are left out.
    """

    def __init__(self, n_rows: int, relative_accuracy: float = 1e-3) -> None:
        from mcinfra.stats.sketch import fraction_bits

        self.shift = 52 - fraction_bits(relative_accuracy)
        self.relative_accuracy = relative_accuracy
        # per row: (key of the first bucket, int64 array (3, width) of the parts' sums)
        self.rows: list[tuple[int, np.ndarray]] = [
            (0, np.zeros((3, 0), dtype=np.int64)) for _ in range(n_rows)
        ]
        self.other: list[dict[int, int]] = [{} for _ in range(n_rows)]  # keys <= 0

    def keys(self, values: np.ndarray) -> np.ndarray:
        """Signed bucket key of each value, increasing with the value."""
        v = np.asarray(values, dtype=np.float64)
        codes = np.abs(v).view(np.int64) >> self.shift
        return np.where(v < 0, -codes - 1, codes)

    def _widen(self, row: int, low: int, high: int) -> tuple[int, np.ndarray]:
        base, table = self.rows[row]
        if table.shape[1] and base <= low and high < base + table.shape[1]:
            return base, table
        start = min(low, base) if table.shape[1] else low
        stop = max(high + 1, base + table.shape[1]) if table.shape[1] else high + 1
        wider = np.zeros((3, stop - start), dtype=np.int64)
        wider[:, base - start : base - start + table.shape[1]] = table
        self.rows[row] = (start, wider)
        return start, wider

    def add(self, values: np.ndarray, units: np.ndarray) -> None:
        """Add draws: ``values`` (rows, n) and their fixed-point weights ``units`` (n,)."""
        units = np.asarray(units, dtype=np.int64)
        mask = (1 << 20) - 1
        parts = [((units >> shift) & mask).astype(np.float64) for shift in (40, 20, 0)]
        weighted = units > 0
        for row, row_values in enumerate(values):
            keep = weighted & ~np.isnan(row_values)
            every = bool(keep.all())
            keys = self.keys(row_values if every else row_values[keep])
            if keys.size == 0:
                continue
            if keys.min() <= 0:
                positive = keys > 0
                self._add_sparse(row, keys[~positive], units[keep][~positive])
                keep = keep.copy()
                keep[keep] = positive
                every = False
                keys = keys[positive]
                if keys.size == 0:
                    continue
            low, high = int(keys.min()), int(keys.max())
            base, table = self._widen(row, low, high)
            offsets = keys - base
            for k, part in enumerate(parts):
                # float sums of integers below 2**20 are exact for fewer than 2**33 draws
                sums = np.bincount(offsets, weights=part if every else part[keep])
                table[k, : sums.size] += sums.astype(np.int64)

    def _add_sparse(self, row: int, keys: np.ndarray, units: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        keys, units = keys[order], units[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        high = np.add.reduceat(units >> _HALF_BITS, starts)
        low = np.add.reduceat(units & ((1 << _HALF_BITS) - 1), starts)
        found = self.other[row]
        for key, h, lo in zip(keys[starts].tolist(), high.tolist(), low.tolist(), strict=True):
            found[key] = found.get(key, 0) + (h << _HALF_BITS) + lo

    def merge(self, other: WeightedBuckets) -> None:
        """Add the buckets of another, disjoint, set of draws."""
        for row, more in enumerate(other.other):
            for key, total in more.items():
                self.other[row][key] = self.other[row].get(key, 0) + total
        for row, (base, table) in enumerate(other.rows):
            if table.shape[1]:
                start, mine = self._widen(row, base, base + table.shape[1] - 1)
                mine[:, base - start : base - start + table.shape[1]] += table

    def table(self, row: int) -> dict[int, int]:
        """Exact weight sum (units of 2**-60) of every non-empty bucket of ``row``, by key."""
        base, table = self.rows[row]
        dense = {
            base + int(i): (int(table[0, i]) << 40) + (int(table[1, i]) << 20) + int(table[2, i])
            for i in np.flatnonzero(table.any(axis=0))
        }
        return dict(sorted(self.other[row].items())) | dense

    def quantiles(self, row: int, levels: tuple[float, ...]) -> list[float]:
        """Representative of the bucket where the cumulative weight share reaches each level."""
        from mcinfra.stats.sketch import bucket_representatives

        buckets = self.table(row)
        if not buckets:
            return [math.nan] * len(levels)
        keys = list(buckets)  # increasing: the dict's keys <= 0 first, then the table's
        cumulative = np.cumsum([float(buckets[key]) for key in keys])
        result = []
        for level in levels:
            index = int(np.searchsorted(cumulative, level * cumulative[-1]))
            key = keys[min(index, len(keys) - 1)]
            code = key if key >= 0 else -key - 1
            magnitude = float(bucket_representatives(np.array([code]), self.shift)[0])
            result.append(-magnitude if key < 0 else magnitude if code else 0.0)
        return result


def weighted_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each value's mid-rank under the weighted distribution, in (0, 1).

    The weight of the smaller values plus half the weight of the equal ones, over the total:
    the weighted version of the CDF value u = F(x) the sensitivity measures use.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    order = np.argsort(v, kind="stable")
    ordered, ordered_w = v[order], w[order]
    cumulative = np.concatenate(([0.0], np.cumsum(ordered_w)))
    starts = np.searchsorted(ordered, ordered, side="left")
    stops = np.searchsorted(ordered, ordered, side="right")
    mid = (cumulative[starts] + cumulative[stops]) / 2.0
    ranks = np.empty_like(mid)
    ranks[order] = mid / cumulative[-1]
    return ranks


def weighted_sensitivity(
    ranks: np.ndarray, indicator: np.ndarray, weights: np.ndarray, bins: int = 32
) -> tuple[float, float]:
    """First-order index and rank correlation of an indicator with an input, under weights.

    ``ranks`` are the input's :func:`weighted_ranks`. The rank correlation is the weighted
    Pearson correlation of rank and indicator; the first-order index the weighted variance
    of the indicator's mean over ``bins`` equal bins of rank, over the indicator's variance
    (without the small-sample correction of the unweighted index). NaN when the indicator
    is constant under the weights.
    """
    w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    y = np.asarray(indicator, dtype=np.float64)
    p = float(np.sum(w * y))
    variance = p * (1.0 - p)
    if variance <= 0.0:
        return math.nan, math.nan
    u = np.asarray(ranks, dtype=np.float64)
    mean_u = float(np.sum(w * u))
    spread_u = math.sqrt(float(np.sum(w * (u - mean_u) ** 2)))
    correlation = float(np.sum(w * (u - mean_u) * (y - p))) / (spread_u * math.sqrt(variance))
    cell = np.minimum((u * bins).astype(np.int64), bins - 1)
    mass = np.bincount(cell, weights=w, minlength=bins)
    held = np.bincount(cell, weights=w * y, minlength=bins)
    filled = mass > 0
    between = float(np.sum((held[filled] / mass[filled] - p) ** 2 * mass[filled]))
    return between / variance, correlation
