"""Quantiles of every series and year, each with a 95 % interval from order statistics.

For a quantile p of n draws, the rank of the true p-quantile among the draws is binomial
(n, p); the interval [x(lo), x(hi)] with lo, hi = n p -/+ 1.96 sqrt(n p (1 - p)) (rounded
outwards, clipped to the sample) covers it with probability about 95 %. The point estimate
uses numpy's default (linear) definition. From exact columns all are exact order statistics
of the draws; from the quantile sketch the estimate is within its relative accuracy of the
exact one, and each interval bound is the edge of the sketch bucket holding the exact
order statistic (the low bound the bucket's lower edge, the high bound its upper edge), so
the interval contains the exact order-statistic interval of the same draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcinfra.stats.probability import Z95

QUANTILES = (0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99)


def quantile_ranks(n: int, p: float, z: float = Z95) -> tuple[int, int, int, int, float]:
    """Ranks (floor, ceil) of the linear estimate, the interval ranks (lo, hi) and its weight."""
    h = (n - 1) * p
    low = int(np.floor(h))
    spread = z * np.sqrt(n * p * (1 - p))
    lo = int(max(0, np.floor(n * p - spread) - 1))
    hi = int(min(n - 1, np.ceil(n * p + spread)))
    return low, min(low + 1, n - 1), lo, hi, h - low


def interpolate(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Linear interpolation (numpy's) between order statistics ``a <= b``, from the nearer end."""
    with np.errstate(invalid="ignore"):
        value = np.where(weight >= 0.5, b - (b - a) * (1 - weight), a + (b - a) * weight)
    return np.where(a == b, a, value)


def linear_quantiles(source, keys: list, probs, transform=None) -> np.ndarray:
    """Quantiles (len(keys), len(probs)), numpy's "linear" definition, from order statistics.

    ``transform``, an increasing function, is applied to the order statistics before they
    are interpolated (a realised CAGR from a growth ratio, say).
    """
    plan = [quantile_ranks(source.draws, p) for p in probs]
    ranks = np.array([r for low, high, *_ in plan for r in (low, high)], dtype=np.int64)
    picked = source.order_statistics(keys, ranks).reshape(len(keys), len(probs), 2)
    if transform is not None:
        picked = transform(picked)
    return interpolate(picked[..., 0], picked[..., 1], np.array([w for *_, w in plan]))


@dataclass(frozen=True)
class QuantileTable:
    """Quantiles with 95 % intervals by (segment, year, quantile); NaN where not tabulated.

    Plain arrays, so writing a run's files needs no xarray; :meth:`to_dataset` gives the
    ``xarray.Dataset`` that ``quantiles.nc`` holds.
    """

    segments: list[str]
    years: list[int]
    probs: list[float]
    value: np.ndarray  # (segments, years, probs)
    ci95_low: np.ndarray
    ci95_high: np.ndarray
    attrs: dict

    VARIABLES = ("value", "ci95_low", "ci95_high")

    @property
    def coords(self) -> dict[str, list]:
        """Labels of the dimensions, in order: segment, year, quantile."""
        return {"segment": self.segments, "year": self.years, "quantile": self.probs}

    @property
    def variables(self) -> dict[str, np.ndarray]:
        """The three (segment, year, quantile) arrays by name."""
        return {name: getattr(self, name) for name in self.VARIABLES}

    def to_dataset(self):
        """The table as an ``xarray.Dataset`` (dims segment, year, quantile)."""
        import xarray as xr

        dims = tuple(self.coords)
        return xr.Dataset(
            {name: (dims, array) for name, array in self.variables.items()},
            coords=self.coords,
            attrs=self.attrs,
        )


def quantile_table(source, keys: list[tuple[str, int]], probs=QUANTILES) -> QuantileTable:
    """Quantiles with 95 % intervals of the (series, year) ``keys``.

    ``source`` is exact columns (:class:`mcinfra.stats.summary.Columns`) or a sketch
    (:class:`mcinfra.stats.sketch.SketchColumns`): anything with ``draws``,
    ``order_statistics(keys, ranks)`` and ``order_statistic_bounds(keys, low, high)``. The
    interval runs from the lower bound of order statistic ``lo`` to the upper bound of
    order statistic ``hi``, so a sketch's interval contains the exact one.
    """
    n = source.draws
    plan = [quantile_ranks(n, p) for p in probs]
    ranks = np.array([r for low, high, *_ in plan for r in (low, high)], dtype=np.int64)
    picked = source.order_statistics(keys, ranks).reshape(len(keys), len(probs), 2)
    weight = np.array([w for *_, w in plan])
    value = interpolate(picked[..., 0], picked[..., 1], weight)
    lows, highs = source.order_statistic_bounds(
        keys,
        np.array([lo for *_, lo, _, _ in plan], dtype=np.int64),
        np.array([hi for *_, hi, _ in plan], dtype=np.int64),
    )
    segments = list(dict.fromkeys(k[0] for k in keys))
    years = sorted({k[1] for k in keys})
    shape = (len(segments), len(years), len(probs))
    cube = {name: np.full(shape, np.nan) for name in ("value", "ci95_low", "ci95_high")}
    for row, (label, year) in enumerate(keys):
        s, t = segments.index(label), years.index(year)
        cube["value"][s, t] = value[row]
        cube["ci95_low"][s, t] = lows[row]
        cube["ci95_high"][s, t] = highs[row]
    return QuantileTable(
        segments,
        [int(y) for y in years],
        [float(p) for p in probs],
        **cube,
        attrs={
            "draws": n,
            "interval": (
                "95 % from order statistics (binomial ranks), bounds widened to the "
                "sketch's buckets"
                if getattr(source, "relative_accuracy", 0.0)
                else "95 % from order statistics (binomial ranks)"
            ),
            "relative_accuracy": getattr(source, "relative_accuracy", 0.0),
        },
    )
